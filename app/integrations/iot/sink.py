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


class RecordSink(Protocol):
    """Persistence as the gateway needs it.

    ``store`` must only return once the records are durable: the device ACK follows it.
    A reading can arrive twice (stored, then the connection dropped before the ACK, so
    the device re-sent it): dedupe on (device, fix time, kind) rather than trusting order.
    An exception from ``store`` cuts that connection without an ACK; the device retries.
    ``is_known`` is called on the event loop for every frame and must be cheap (cache).
    ``unknown_device`` is told about each frame from an unregistered id, so the sink can
    keep an inbox (id, protocol, address, first/last seen, count) for one-click claiming.
    """

    async def store(self, records: Sequence[DeviceRecord], *, peer: str) -> None: ...

    def is_known(self, device_id: str, protocol: str) -> bool: ...

    async def unknown_device(self, device_id: str, protocol: str, peer: str) -> None: ...


@dataclass(slots=True)
class UnknownDevice:
    """One entry of the "unknown devices seen" inbox."""

    device_id: str
    protocol: str
    address: str
    first_seen: datetime
    last_seen: datetime
    count: int


class InMemorySink:
    """A RecordSink that keeps everything in lists; known ids are explicit or "accept all".

    ``accept_all`` exists for load tests and demos where registering thousands of
    simulated ids first would only add noise.
    """

    def __init__(self, known: set[tuple[str, str]] | None = None, *, accept_all: bool = False):
        self.known: set[tuple[str, str]] = set(known or ())
        self.accept_all = accept_all
        self.records: list[DeviceRecord] = []
        self.unknown: dict[tuple[str, str], UnknownDevice] = {}
        self._changed = asyncio.Condition()

    def claim(self, device_id: str, protocol: str) -> None:
        """Register a device (the operator claimed it from the inbox)."""
        self.known.add((device_id, protocol))
        self.unknown.pop((device_id, protocol), None)

    def is_known(self, device_id: str, protocol: str) -> bool:
        return self.accept_all or (device_id, protocol) in self.known

    async def store(self, records: Sequence[DeviceRecord], *, peer: str) -> None:
        self.records.extend(records)
        async with self._changed:
            self._changed.notify_all()

    async def unknown_device(self, device_id: str, protocol: str, peer: str) -> None:
        now = datetime.now(UTC)
        entry = self.unknown.get((device_id, protocol))
        if entry is None:
            logger.info("unknown device %s (%s) from %s", device_id, protocol, peer)
            self.unknown[(device_id, protocol)] = UnknownDevice(
                device_id, protocol, peer, now, now, 1
            )
        else:
            entry.address, entry.last_seen, entry.count = peer, now, entry.count + 1
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
