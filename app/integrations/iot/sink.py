"""Where decoded device records go: the persistence contract of the gateway and serial readers.

The gateway never talks to a database itself. It hands records to a ``RecordSink`` and
waits for ``store`` to return before it acknowledges the device, so whatever the sink
considers "stored" is what the device is allowed to forget. ``InMemorySink`` is the
reference implementation used by tests, benchmarks and database-free demos.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from app.integrations.iot.records import DeviceRecord

logger = logging.getLogger(__name__)

MAX_REJECTED = 512  # bytes of a rejected frame (or read) handed to ``RecordSink.rejected``


@dataclass(frozen=True, slots=True)
class Received:
    """The records one read of one connection decoded to; ``peer`` is where it came from."""

    peer: str
    records: Sequence[DeviceRecord]


class RecordSink(Protocol):
    """Persistence as the gateway needs it.

    ``store`` gets the reads of many connections at once (the gateway batches them) and
    must only return once all their records are durable: the device ACKs follow it.
    A reading can arrive twice (stored, then the connection dropped before the ACK, so
    the device re-sent it): dedupe on (device, fix time, kind) rather than trusting order.
    An exception from ``store`` means no ACK; the gateway retries per connection and cuts
    the ones that still fail, and those devices re-send.
    ``is_known`` is called on the event loop for every frame and must be cheap (cache).
    ``unknown_device`` is told about each frame from an unregistered id, so the sink can
    keep an inbox (id, protocol, address, first/last seen, count) for one-click claiming;
    ``hint`` says what is wrong with a device on another protocol's port (the latest
    sighting's, "" when it came to the right one).
    ``rejected`` is told about bytes from an identified device that could not be framed
    or decoded (the connection is cut), so troubleshooting sees them next to the good
    frames; it runs on the event loop and must not block.
    """

    async def store(self, received: Sequence[Received]) -> None: ...

    def is_known(self, device_id: str, protocol: str) -> bool: ...

    async def unknown_device(
        self, device_id: str, protocol: str, peer: str, *, hint: str = ""
    ) -> None: ...

    def rejected(
        self, device_id: str, protocol: str, peer: str, data: bytes, reason: str
    ) -> None: ...


@dataclass(slots=True)
class UnknownDevice:
    """One entry of the "unknown devices seen" inbox."""

    device_id: str
    protocol: str
    address: str
    first_seen: datetime
    last_seen: datetime
    count: int
    hint: str = ""


class InMemorySink:
    """A RecordSink that keeps everything in lists; known ids are explicit or "accept all".

    ``accept_all`` exists for load tests and demos where registering thousands of
    simulated ids first would only add noise.
    """

    def __init__(self, known: set[tuple[str, str]] | None = None, *, accept_all: bool = False):
        self.known: set[tuple[str, str]] = set(known or ())
        self.accept_all = accept_all
        self.records: list[DeviceRecord] = []
        self.rejects: list[tuple[str, bytes, str]] = []  # (device id, bytes, reason)
        self.unknown: dict[tuple[str, str], UnknownDevice] = {}
        self._changed = asyncio.Condition()

    def claim(self, device_id: str, protocol: str) -> None:
        """Register a device (the operator claimed it from the inbox)."""
        self.known.add((device_id, protocol))
        self.unknown.pop((device_id, protocol), None)

    def is_known(self, device_id: str, protocol: str) -> bool:
        return self.accept_all or (device_id, protocol) in self.known

    async def store(self, received: Sequence[Received]) -> None:
        for read in received:
            self.records.extend(read.records)
        async with self._changed:
            self._changed.notify_all()

    def rejected(self, device_id: str, protocol: str, peer: str, data: bytes, reason: str) -> None:
        self.rejects.append((device_id, data, reason))

    async def unknown_device(
        self, device_id: str, protocol: str, peer: str, *, hint: str = ""
    ) -> None:
        now = datetime.now(UTC)
        entry = self.unknown.get((device_id, protocol))
        if entry is None:
            logger.info("unknown device %s (%s) from %s", device_id, protocol, peer)
            self.unknown[(device_id, protocol)] = UnknownDevice(
                device_id, protocol, peer, now, now, 1, hint
            )
        else:
            entry.address, entry.last_seen, entry.count = peer, now, entry.count + 1
            entry.hint = hint
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[InMemorySink], bool], timeout: float = 10.0
    ) -> None:
        """Wait until ``predicate(self)`` holds; TimeoutError otherwise (tests, demos)."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(_wait(), timeout)
