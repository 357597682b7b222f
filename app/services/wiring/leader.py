"""Exactly one collector leads: a session-level PostgreSQL advisory lock on its own connection.

The lock lives as long as the connection; when the leading process dies (even SIGKILL, even
a pulled cable once TCP notices) the server drops the session and the lock with it, and a
standby collector's next try takes it. Standbys poll with ``pg_try_advisory_lock`` rather
than block in ``pg_advisory_lock`` so that a stop request is answered at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from app.services.change_feed import libpq_dsn

logger = logging.getLogger(__name__)

#: Shared by every collector of every installation on one database ("Fleet" + 2).
COLLECTOR_LOCK_ID = 0x466C656574_02


class LeaderLost(Exception):
    """The connection that held the leader lock is gone; the lock may be someone else's now."""


class LeaderLock:
    """``await acquire()`` waits until this process leads; ``await check()`` while leading."""

    def __init__(
        self, url: str | URL, *, lock_id: int = COLLECTOR_LOCK_ID, poll_s: float = 1.0
    ) -> None:
        self._dsn = libpq_dsn(url)
        self._lock_id = lock_id
        self._poll_s = poll_s
        self._conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> None:
        announced = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            except psycopg.Error as exc:
                logger.warning("leader election: database unreachable (%s); retrying", exc)
                await asyncio.sleep(self._poll_s)
                continue
            try:
                while True:
                    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_id,))
                    row = await cur.fetchone()
                    if row is not None and row[0]:
                        self._conn = conn
                        return
                    if not announced:
                        logger.info("standby: another collector leads; waiting to take over")
                        announced = True
                    await asyncio.sleep(self._poll_s)
            except psycopg.Error as exc:
                logger.warning("leader election: connection lost (%s); retrying", exc)
            except BaseException:
                await conn.close()
                raise
            await conn.close()

    async def check(self) -> None:
        """Raise LeaderLost unless the lock's connection still answers."""
        if self._conn is None:
            raise LeaderLost("not leading")
        try:
            await self._conn.execute("SELECT 1")
        except psycopg.Error as exc:
            await self._drop()
            raise LeaderLost(str(exc)) from exc

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_id,))
        except psycopg.Error:
            logger.info("leader lock connection already gone at release")
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
