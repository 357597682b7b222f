"""The shared-mode change feed: PostgreSQL NOTIFY on one channel, and a listener for consoles.

In shared mode only the collector polls; every console learns what changed from
``NOTIFY fleet_changes, '{"table": ..., "vehicle_id": ...}'`` sent after the collector's
writers committed, and re-reads just that vehicle. A notification carries no data of its
own (the database stays the single source of truth), so a lost one costs at most a stale
row until the next, and a listener that had to reconnect asks for a full reload.

Publishing never blocks the writer: :meth:`ChangePublisher.publish` queues (and coalesces)
changes; its task sends them on its own autocommit connection. On SQLite everything here
is a no-op, since one process owns the file and tells its window directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from app.services.waking import wait_woken

logger = logging.getLogger(__name__)

CHANNEL = "fleet_changes"
#: PostgreSQL refuses payloads of 8000 bytes or more; ours are tiny, this is a guard.
MAX_PAYLOAD = 7900


@dataclass(frozen=True, slots=True)
class Change:
    """Something about one vehicle changed in ``table`` (``vehicle_id`` None: many/unknown)."""

    table: str
    vehicle_id: int | None = None
    command_id: int | None = None
    state: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"table": self.table, "vehicle_id": self.vehicle_id}
        if self.command_id is not None:
            data["command_id"] = self.command_id
        if self.state is not None:
            data["state"] = self.state
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, payload: str) -> Change | None:
        """The change in a payload, or None (logged) for anything malformed."""
        try:
            data = json.loads(payload)
            table = data["table"]
            vehicle_id = data.get("vehicle_id")
            command_id = data.get("command_id")
            state = data.get("state")
            if not isinstance(table, str) or not table:
                raise ValueError("table")
            for number in (vehicle_id, command_id):
                if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
                    raise ValueError("id")
            if state is not None and not isinstance(state, str):
                raise ValueError("state")
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignored a malformed change notification (%s)", exc)
            return None
        return cls(table, vehicle_id, command_id, state)


def is_postgres(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def libpq_dsn(url: str | URL) -> str:
    """The SQLAlchemy URL as libpq connection parameters psycopg accepts. Not the URL
    rendered again: SQLAlchemy leaves a space in a password as it is, which libpq refuses."""
    parsed = make_url(url)
    given = {
        "host": parsed.host,
        "port": parsed.port,
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password,
        **{k: v for k, v in parsed.query.items() if isinstance(v, str)},  # e.g. sslmode
    }
    return make_conninfo("", **{k: v for k, v in given.items() if v is not None})


def notify_in(session: Session, change: Change) -> None:
    """NOTIFY ``change`` inside the caller's transaction: PostgreSQL sends it on commit and
    drops it on rollback, so a notice never names a write that did not happen. How a
    console announces its own writes (``pg_notify`` is every login's by default; no
    grant needed); on SQLite nothing (one process owns the file)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": CHANNEL, "payload": change.to_json()},
    )


class ChangePublisher:
    """Queues changes and sends them as NOTIFY from one task (spawn :meth:`run` once)."""

    def __init__(self, url: str | URL, *, retry_s: float = 1.0) -> None:
        self._dsn = libpq_dsn(url)
        self._retry_s = retry_s
        self._pending: dict[Change, None] = {}  # ordered set: bursts collapse
        self._wake = asyncio.Event()
        self.sent = 0

    def publish(self, change: Change) -> None:
        """Queue one change; never blocks, never raises (called from writer observers)."""
        self._pending[change] = None
        self._wake.set()

    def publish_vehicles(self, table: str, vehicle_ids: frozenset[int] | set[int]) -> None:
        for vehicle_id in sorted(vehicle_ids):
            self.publish(Change(table, vehicle_id))

    async def run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    while True:
                        await self._wake.wait()
                        self._wake.clear()
                        await self._send_all(conn)
            except psycopg.Error as exc:
                logger.warning("change feed: cannot send notifications (%s); retrying", exc)
                await asyncio.sleep(self._retry_s)

    async def _send_all(self, conn: psycopg.AsyncConnection[Any]) -> None:
        while self._pending:
            change = next(iter(self._pending))
            payload = change.to_json()
            if len(payload) <= MAX_PAYLOAD:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                self.sent += 1
            # Removed only once sent: a broken connection keeps it for the retry.
            self._pending.pop(change, None)


class ChangeListener:
    """LISTENs on the channel and hands each change to ``on_change``; reconnects forever.

    ``on_resync`` is called after a reconnect (notifications sent meanwhile are lost, so
    the console reloads everything) and ``on_state(connected)`` when the link goes up/down.
    """

    def __init__(
        self,
        url: str | URL,
        on_change: Callable[[Change], None],
        *,
        on_resync: Callable[[], None] | None = None,
        on_state: Callable[[bool], None] | None = None,
        retry_s: float = 1.0,
    ) -> None:
        self._dsn = libpq_dsn(url)
        self._on_change = on_change
        self._on_resync = on_resync
        self._on_state = on_state
        self._retry_s = retry_s
        self.listening = asyncio.Event()

    async def run(self) -> None:
        connected_before = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._state(True)
                    if connected_before and self._on_resync is not None:
                        self._on_resync()
                    connected_before = True
                    async for note in conn.notifies():
                        change = Change.parse(note.payload)
                        if change is not None:
                            self._deliver(change)
            except psycopg.Error as exc:
                logger.warning("change feed: listener lost the database (%s); reconnecting", exc)
            self.listening.clear()
            self._state(False)
            await asyncio.sleep(self._retry_s)

    def _deliver(self, change: Change) -> None:
        try:
            self._on_change(change)
        except Exception:
            logger.exception("change feed: handling %s failed", change)

    def _state(self, connected: bool) -> None:
        if self._on_state is not None:
            self._on_state(connected)


async def sweep_on_notice(
    url: str | URL | None,
    notices: Callable[[Change], bool],
    sweep: Callable[[], Awaitable[object]],
    sweep_s: float,
    what: str,
) -> None:
    """The collector's request queues (commands, connect requests): ``sweep()`` now, again
    at once when a change ``notices`` accepts arrives (LISTEN on ``url``; None: no feed,
    SQLite), and every ``sweep_s`` anyway, because a notice sent while the listener was
    reconnecting, or before this process led, is lost. A failed sweep is logged and retried.
    """
    wake = asyncio.Event()

    def on_change(change: Change) -> None:
        if notices(change):
            wake.set()

    listening: asyncio.Task[None] | None = None
    if url is not None:
        listener = ChangeListener(url, on_change, on_resync=wake.set)
        listening = asyncio.get_running_loop().create_task(listener.run(), name=f"{what}-listen")
    try:
        while True:
            try:
                await sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: sweep failed; will retry", what)
            await wait_woken(wake, sweep_s)  # not wait_for: it loses cancels
            wake.clear()
    finally:
        if listening is not None:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
