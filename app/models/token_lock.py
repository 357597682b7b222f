"""Cross-process exclusion for a Smartcar token refresh: row locks on ``smartcar_connection``.

Smartcar rotates the refresh token on every use and the old one dies at once, so two
processes (a collector and a console, or two collectors during a failover) refreshing the
same grant would burn it: the loser gets ``invalid_grant`` and the car needs a new Connect.
In-process asyncio locks cannot see other processes; on PostgreSQL the refresh therefore
runs inside ``SELECT ... FOR UPDATE`` of every row that holds the grant's pair, on a
connection of its own, and writes the rotated pair (and any status change) on that same
connection before committing, so a second process waits, then reads the new pair.

SQLite has one process per file by design, where the asyncio lock is enough: there
:meth:`TokenRowLock.hold` yields None and the caller writes as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Connection, or_, select, update

from app.models.connections import EncryptedTokens
from app.models.database import Database
from app.models.orm import SmartcarConnection


class LockedGrant:
    """The locked rows' connection; every write to those rows must go through it."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _tokens(self, connection_id: int) -> EncryptedTokens | None:
        c = SmartcarConnection
        row = self._connection.execute(
            select(
                c.access_token_enc,
                c.refresh_token_enc,
                c.access_expires_at,
                c.refresh_expires_at,
            ).where(c.id == connection_id)
        ).first()
        if row is None or row[0] is None or row[1] is None or row[2] is None or row[3] is None:
            return None
        return EncryptedTokens(row[0], row[1], row[2], row[3])

    def _store(self, connection_ids: list[int], tokens: EncryptedTokens) -> None:
        self._connection.execute(
            update(SmartcarConnection)
            .where(SmartcarConnection.id.in_(connection_ids))
            .values(
                access_token_enc=tokens.access,
                refresh_token_enc=tokens.refresh,
                access_expires_at=tokens.access_expires_at,
                refresh_expires_at=tokens.refresh_expires_at,
                has_tokens=True,
            )
        )

    def _set_status(self, connection_id: int, status: str, reason: str, error: str) -> None:
        self._connection.execute(
            update(SmartcarConnection)
            .where(SmartcarConnection.id == connection_id)
            .values(status=status, status_reason=reason, last_error=error)
        )

    async def tokens(self, connection_id: int) -> EncryptedTokens | None:
        """The pair as committed by whoever held the lock before (never a stale copy)."""
        return await asyncio.to_thread(self._tokens, connection_id)

    async def store(self, connection_ids: list[int], tokens: EncryptedTokens) -> None:
        await asyncio.to_thread(self._store, connection_ids, tokens)

    async def set_status(self, connection_id: int, status: str, reason: str, error: str) -> None:
        await asyncio.to_thread(self._set_status, connection_id, status, reason, error)


class TokenRowLock:
    """``async with lock.hold(connection_id) as locked:`` around one refresh."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _acquire(self, connection_id: int) -> Connection:
        connection = self._db.engine.connect()
        try:
            c = SmartcarConnection
            user = connection.execute(
                select(c.smartcar_user_id).where(c.id == connection_id)
            ).scalar()
            grant = c.id == connection_id
            if user is not None:
                grant = or_(grant, c.smartcar_user_id == user)
            # Rows in id order: two processes locking overlapping grants never deadlock.
            connection.execute(select(c.id).where(grant).order_by(c.id).with_for_update())
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _finish(connection: Connection) -> None:
        with connection:  # closing without a commit rolls back
            connection.commit()

    @asynccontextmanager
    async def hold(self, connection_id: int) -> AsyncIterator[LockedGrant | None]:
        """Commits the writes made through the yielded grant, also when the refresh failed
        (an Expired status must stick).

        The lock is taken on a worker thread, not the database thread: waiting for another
        process's refresh must not stall every other database call of this one.
        """
        if self._db.is_sqlite:
            yield None
            return
        connection = await asyncio.to_thread(self._acquire, connection_id)
        try:
            yield LockedGrant(connection)
        finally:
            await asyncio.to_thread(self._finish, connection)
