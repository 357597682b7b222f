"""Store-then-ACK for every connection of the gateway, in batches.

Thousands of devices each sending a frame now and then would otherwise mean one task,
one ``sink.store`` and one database round trip per frame. Here every decoded read joins
one queue; a single flush task hands everything queued to the sink in one ``store``
call, then writes each connection's ACK in arrival order. While a store is in flight
new reads queue up, so batches grow with the load (group commit) and the per-frame cost
stays flat as the frame rate rises.

A failed batch is retried connection by connection, so one device whose records the sink
refuses is cut (without ACK, it keeps its data and re-sends) while the others in the same
batch are stored and acknowledged. Re-storing what the failed attempt may already have
kept is safe: the sink dedupes re-sent readings.

The flush task is a guarded per-burst task, not a supervised long-lived one: it exists
only while reads wait, and a restart policy would have nothing to restart (the next
``submit`` starts a fresh one). What supervision is for, it does itself: a flush that
crashes outside the sink (a bug after the store) is logged with its traceback, the
connections of that batch are cut without their ACKs still owed (the devices keep their
data and re-send; the sink dedupes what was kept), and the reads queued behind it are
flushed as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from app.integrations.iot.records import DeviceRecord
from app.integrations.iot.sink import Received, RecordSink
from app.logging_setup import RecurringProblem

if TYPE_CHECKING:
    from app.integrations.iot.commands import CommandTracker
    from app.integrations.iot.gateway_state import GatewayStats
    from app.integrations.iot.misdirected import Misdirected


class BatchedConnection(Protocol):
    """What the batcher needs of a device connection (a ``DeviceConnection``)."""

    queued: int
    paused: bool
    closed: bool
    peer: str
    protocol_name: str

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def write(self, data: bytes) -> bool: ...

    def cut(self, reason: str, *, abort: bool = False) -> None: ...


C = TypeVar("C", bound=BatchedConnection)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Pending:
    """What one read of one connection decoded to, waiting for the sink."""

    records: list[DeviceRecord]
    ack: bytes
    online_id: str | None  # the connection's device became known with this read
    unknown_ids: tuple[str, ...]
    misdirected: Misdirected | None = None  # a device on the wrong port, for the inbox


class StoreBatcher(Generic[C]):
    """The gateway's single queue from decoded reads to stored records and sent ACKs."""

    def __init__(
        self,
        sink: RecordSink,
        stats: GatewayStats,
        commands: CommandTracker,
        on_online: Callable[[C], None],
        max_pending_reads: int,
    ) -> None:
        self._sink = sink
        self._stats = stats
        self._commands = commands
        self._on_online = on_online
        self._max_pending = max_pending_reads
        self._queue: list[tuple[C, Pending]] = []
        self._problem = RecurringProblem(logger, "storing device records")
        self._task: asyncio.Task[None] | None = None

    def submit(self, conn: C, work: Pending) -> None:
        """Queue one read; pauses the connection's reading when it has too much queued."""
        self._queue.append((conn, work))
        conn.queued += 1
        if conn.queued > self._max_pending and not conn.paused:
            conn.pause()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def waiting(self) -> int:
        """Reads queued for the next store (the one in flight not counted)."""
        return len(self._queue)

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The flush in progress, if any (the gateway waits for it on shutdown)."""
        return self._task

    async def _run(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    await self._flush(batch)
                except Exception:
                    self._crashed(batch)
        finally:
            self._task = None

    def _crashed(self, batch: list[tuple[C, Pending]]) -> None:
        logger.exception("a store batch of %d reads crashed; its connections are cut", len(batch))
        for conn, _work in batch:
            conn.queued = 0
            if not conn.closed:
                conn.cut("store batch crashed", abort=True)

    async def _flush(self, batch: list[tuple[C, Pending]]) -> None:
        for conn, work in batch:
            for device_id in work.unknown_ids:
                await self._report_unknown(device_id, conn.protocol_name, conn.peer)
            wrong = work.misdirected
            if wrong is not None and wrong.device_id is not None:
                await self._report_unknown(wrong.device_id, wrong.protocol, conn.peer, wrong.hint)
        stored = [(conn, work) for conn, work in batch if work.records]
        failed: set[int] = set()
        if stored:
            try:
                await self._sink.store([Received(c.peer, w.records) for c, w in stored])
            except Exception as exc:
                if len(stored) == 1:
                    failed.add(id(stored[0][0]))
                    self._failed(stored[0][0], exc)
                else:
                    if not self._problem.active:
                        logger.warning(
                            "storing a batch of %d reads failed; retrying one by one",
                            len(stored),
                        )
                    failed = await self._store_one_by_one(stored)
        if stored and not failed:
            self._problem.recovered()
        stats = self._stats
        for conn, work in batch:
            conn.queued -= 1
            if id(conn) in failed:
                continue
            stats.records_stored += len(work.records)
            if conn.closed:
                continue  # stored but not ACKed: the device re-sends, the sink dedupes
            if work.ack and conn.write(work.ack):
                stats.acks_sent += 1
            for record in work.records:
                self._commands.observe(record)
            if work.online_id is not None:
                self._on_online(conn)
            if conn.paused and conn.queued <= self._max_pending // 2:
                conn.resume()

    async def _store_one_by_one(self, stored: list[tuple[C, Pending]]) -> set[int]:
        """Store each connection's reads alone; the ids of connections that failed (cut)."""
        failed: set[int] = set()
        by_conn: dict[int, list[tuple[C, Pending]]] = {}
        for conn, work in stored:
            by_conn.setdefault(id(conn), []).append((conn, work))
        for items in by_conn.values():
            conn = items[0][0]
            try:
                await self._sink.store([Received(conn.peer, w.records) for _c, w in items])
            except Exception as exc:
                failed.add(id(conn))
                self._failed(conn, exc)
        return failed

    async def _report_unknown(
        self, device_id: str, protocol: str, peer: str, hint: str = ""
    ) -> None:
        try:
            await self._sink.unknown_device(device_id, protocol, peer, hint=hint)
        except Exception:
            logger.exception("recording unknown device %s failed", device_id)

    def _failed(self, conn: C, exc: Exception) -> None:
        self._stats.store_errors += 1
        self._problem.failed(exc)  # a full disk fails every connection: say it sparingly
        conn.cut("store failed", abort=True)  # no ACK: the device keeps its data
