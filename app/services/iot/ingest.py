"""IoT records into the database: the gateway's and serial readers' RecordSink.

Decoded device records become :class:`TelemetryReading` objects handed to the one
:class:`TelemetryWriter` every telemetry source shares, so a scooter's fix lands in the
same history and ``vehicle_state`` as a car's poll. ``store`` returns only once the writer
committed, because the gateway acknowledges the device after it (a device then deletes
the reading from its buffer).

Cheap on the event loop by design: ``is_known`` is a dict lookup in an in-memory index of
``iot_device`` (refreshed after claims and periodically, for devices registered through
Edit Vehicle); device bookkeeping (last heard, address, firmware) and the unknown-devices
inbox are merged in memory and written in one transaction per ``flush_interval_s`` on the
database thread, never once per frame.

The inbox is bounded, because anyone who can reach the gateway can make up IMEIs: at most
``INBOX_MAX`` devices in all and ``INBOX_PER_ADDRESS`` from one IP address; sightings of
further new ids are refused (counted in ``inbox_refused``, logged once a minute at most)
and get no frame log, so memory and the inbox table stay bounded whatever arrives.

Re-sent records (stored, then the connection dropped before the ACK) are recognised by
(device, fix time, kind) and skipped; the store additionally skips readings equal to the
latest state, which also covers a re-send after a restart of the console.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

from app.integrations.iot.profiles import vendor_for_protocol
from app.integrations.iot.records import DeviceRecord, LockState, RecordKind
from app.integrations.iot.sink import Received
from app.listeners import Listeners
from app.logging_setup import RecurringProblem
from app.models.database import Database
from app.models.iot_devices import (
    DeviceEntry,
    Heard,
    IotDeviceRepository,
    UnknownEntry,
    UnknownSighting,
)
from app.models.telemetry_reading import TelemetryReading
from app.models.vehicles import VehicleFields
from app.services.iot.frame_log import FrameEntry, FrameLog, frame_text
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.service import VehicleService

logger = logging.getLogger(__name__)

DEDUPE_WINDOW = 256  # (fix time, kind) keys remembered per device: a whole Teltonika packet
_KINDS = {kind: n for n, kind in enumerate(RecordKind)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def dedupe_key(record: DeviceRecord) -> int | None:
    """(fix time, kind) as one exact int: what identifies a re-sent record.

    An int, not the tuple, because every registered device keeps DEDUPE_WINDOW of them:
    about 20 KiB a device instead of 52 (2,000 scooters: 40 MB instead of 100).
    """
    if record.fix_time is None:
        return None
    return ((record.fix_time - _EPOCH) // _MICROSECOND) * len(_KINDS) + _KINDS[record.kind]


# A control room claims devices one by one: hundreds waiting is already a backlog, and
# one address (a depot NAT, a test bench) rarely has more than a few dozen new devices.
INBOX_MAX = 500
INBOX_PER_ADDRESS = 50
REFUSED_LOG_EVERY_S = 60.0
_LOCKED = {LockState.LOCKED: True, LockState.UNLOCKED: False}


def to_reading(
    record: DeviceRecord, vehicle_id: int, received_at: datetime, raw_text: str | None = None
) -> TelemetryReading:
    """One record as a telemetry reading; a fix the device marks invalid gives no position.

    Range checks happen in the store (``sanitize``), field by field, so one bad value
    never costs the rest of the reading. ``raw_text`` is ``frame_text(record.raw)`` when
    the caller has it already (the frame log needs the same text; at thousands of frames
    a second it is worth formatting once).
    """
    fix = record.valid_fix and record.latitude is not None and record.longitude is not None
    return TelemetryReading(
        vehicle_id=vehicle_id,
        source="iot",
        recorded_at=record.fix_time or received_at,
        received_at=received_at,
        lat=record.latitude if fix else None,
        lon=record.longitude if fix else None,
        speed=record.speed_kmh if fix else None,
        course=record.course_deg if fix else None,
        battery=record.battery_pct,
        odometer=record.odometer_km,
        locked=_LOCKED.get(record.lock_state),
        charging=record.charging,
        raw=(raw_text if raw_text is not None else frame_text(record.raw)) if record.raw else None,
    )


class IotIngest:
    """A RecordSink on the database; also the unknown-devices inbox and claiming."""

    def __init__(
        self,
        database: Database,
        writer: TelemetryWriter,
        *,
        frame_log: FrameLog | None = None,
        flush_interval_s: float = 1.0,
        refresh_interval_s: float = 60.0,
    ) -> None:
        self._db = database
        self._writer = writer
        self.repository = IotDeviceRepository(database)
        self.frames = frame_log or FrameLog()
        self.flush_interval_s = flush_interval_s
        self.refresh_interval_s = refresh_interval_s
        self._index: dict[str, DeviceEntry] = {}
        self._by_vehicle: dict[int, DeviceEntry] = {}
        self._recent: dict[str, tuple[deque[int], set[int]]] = {}
        self._heard: dict[str, Heard] = {}
        self._unknown: dict[tuple[str, str], UnknownSighting] = {}
        #: Hear ``()`` after new unknown-device sightings were written (the inbox).
        self.unknown_changes: Listeners[[]] = Listeners("unknown devices")
        self._flush_lock = asyncio.Lock()
        self._bookkeeping = RecurringProblem(logger, "storing IoT device bookkeeping")
        self.records_stored = self.duplicates = 0
        self._inbox: dict[tuple[str, str], str] = {}  # (id, protocol) -> address host
        self._inbox_hosts: Counter[str] = Counter()
        self._inbox_ids: set[str] = set()
        self.inbox_refused = 0  # sightings of new ids beyond the inbox limits
        self._refused_logged = 0
        self._refused_logged_at = 0.0
        self._refused_from = ""

    # -- the index -----------------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload the registered devices (after Add/Edit Vehicle or a claim elsewhere),
        then the inbox (loading the index drops inbox rows of devices registered since)."""
        self._set_index(await self._db.run(self.repository.load_index))
        listed = await self._db.run(self.repository.list_unknown)
        inbox = {(u.device_id, u.protocol): _host(u.address) for u in listed}
        inbox.update({key: _host(seen.address) for key, seen in self._unknown.items()})
        self._set_inbox(inbox)

    def _set_inbox(self, inbox: dict[tuple[str, str], str]) -> None:
        self._inbox = inbox
        self._inbox_hosts = Counter(inbox.values())
        self._inbox_ids = {device_id for device_id, _ in inbox}

    def _set_index(self, index: dict[str, DeviceEntry]) -> None:
        self._index = index
        self._by_vehicle = {e.vehicle_id: e for e in index.values()}

    def is_known(self, device_id: str, protocol: str) -> bool:
        entry = self._index.get(device_id)
        return entry is not None and entry.protocol in (protocol, "")

    def device(self, device_id: str) -> DeviceEntry | None:
        return self._index.get(device_id)

    def _has_log(self, device_id: str) -> bool:
        """Frame logs exist for registered devices and those in the inbox, nobody else."""
        return device_id in self._index or device_id in self._inbox_ids

    def _admit(self, key: tuple[str, str], peer: str) -> bool:
        """Whether a sighting of ``key`` may be in the inbox (already there, or room left)."""
        if key in self._inbox:
            return True
        host = _host(peer)
        if len(self._inbox) >= INBOX_MAX or self._inbox_hosts[host] >= INBOX_PER_ADDRESS:
            self.inbox_refused += 1
            self._refused_from = host
            return False
        self._inbox[key] = host
        self._inbox_hosts[host] += 1
        self._inbox_ids.add(key[0])
        return True

    def _forget_inbox(self, device_id: str) -> None:
        for key in [k for k in self._inbox if k[0] == device_id]:
            self._inbox_hosts[self._inbox.pop(key)] -= 1
        self._inbox_ids.discard(device_id)

    def device_for_vehicle(self, vehicle_id: int) -> DeviceEntry | None:
        return self._by_vehicle.get(vehicle_id)

    def vehicle_ids(self) -> frozenset[int]:
        return frozenset(self._by_vehicle)

    # -- RecordSink ----------------------------------------------------------------------

    async def store(self, received: Sequence[Received]) -> None:
        now = datetime.now(UTC)
        readings: list[TelemetryReading] = []
        keys: list[tuple[str, int]] = []
        batch_keys: set[tuple[str, int]] = set()
        # Per frame (the records of one frame share its bytes): its text, whose it is, and
        # what became of each record.
        notes: dict[int, tuple[str, str, list[str]]] = {}
        for read in received:
            for record in read.records:
                device_id = record.device_id or ""
                entry = self._index.get(device_id)
                frame = notes.get(id(record.raw))
                if frame is None:
                    frame = notes[id(record.raw)] = (frame_text(record.raw), device_id, [])
                text, note = frame[0], frame[2]
                if entry is None:
                    note.append(f"{record.kind}: device not registered, skipped")
                    continue
                key = dedupe_key(record)
                recent = self._recent.get(device_id)
                if key is not None and (
                    (recent is not None and key in recent[1]) or (device_id, key) in batch_keys
                ):
                    self.duplicates += 1
                    note.append(f"{record.kind}: re-sent, already stored")
                    continue
                if key is not None:
                    batch_keys.add((device_id, key))
                    keys.append((device_id, key))
                readings.append(to_reading(record, entry.vehicle_id, now, text))
                checksum = "" if record.checksum_ok else " (bad checksum, lenient)"
                note.append(f"{record.kind}{checksum}")
                heard = self._heard.get(device_id)
                firmware = record.firmware or (heard.firmware if heard else None)
                self._heard[device_id] = Heard(now, read.peer, record.protocol, firmware)
                if not entry.protocol:
                    self._learn_protocol(entry, record.protocol)
        if readings:
            await self._writer.store(readings)
        for device_id, key in keys:
            self._remember(device_id, key)
        self.records_stored += len(readings)
        for text, device_id, parts in notes.values():
            if device_id and self._has_log(device_id):
                self.frames.add(device_id, FrameEntry(now, "in", text, ", ".join(parts)))

    def rejected(self, device_id: str, protocol: str, peer: str, data: bytes, reason: str) -> None:
        if not self._has_log(device_id):
            return  # bytes from a made-up id: the log file has the cut (see connection.py)
        self.frames.add(
            device_id,
            FrameEntry(datetime.now(UTC), "in", frame_text(data), f"rejected: {reason}"),
        )

    async def unknown_device(
        self, device_id: str, protocol: str, peer: str, *, hint: str = ""
    ) -> None:
        if not self._admit((device_id, protocol), peer):
            return
        now = datetime.now(UTC)
        seen = self._unknown.get((device_id, protocol))
        if seen is None:
            self._unknown[(device_id, protocol)] = UnknownSighting(peer, now, now, 1, hint)
        else:
            seen.address, seen.last_seen, seen.count = peer, now, seen.count + 1
            seen.hint = hint
        note = f"unknown device, {hint}: not stored" if hint else "unknown device: not stored"
        self.frames.add(device_id, FrameEntry(now, "note", f"{protocol} from {peer}", note))

    def _learn_protocol(self, entry: DeviceEntry, protocol: str) -> None:
        learnt = DeviceEntry(entry.vehicle_id, entry.device_id, protocol, entry.vendor)
        self._index[entry.device_id] = self._by_vehicle[entry.vehicle_id] = learnt

    def _remember(self, device_id: str, key: int) -> None:
        recent = self._recent.get(device_id)
        if recent is None:
            recent = self._recent[device_id] = (deque(), set())
        order, keys = recent
        if key in keys:
            return
        order.append(key)
        keys.add(key)
        if len(order) > DEDUPE_WINDOW:
            keys.discard(order.popleft())

    # -- bookkeeping flushes -------------------------------------------------------------

    def heard(self, device_id: str) -> Heard | None:
        """What the gateway last heard from the device (newer than the database's copy)."""
        return self._heard.get(device_id)

    async def flush(self) -> None:
        """Write pending device bookkeeping and inbox sightings now (one transaction each)."""
        self._log_refused()
        async with self._flush_lock:
            heard = {d: h for d, h in self._heard.items() if not h.flushed}
            unknown, self._unknown = self._unknown, {}
            try:
                if heard:
                    await self._db.run(self.repository.record_heard, heard)
                    for h in heard.values():
                        h.flushed = True
                if unknown:
                    await self._db.run(self.repository.record_unknown, unknown)
            except Exception as exc:
                self._bookkeeping.failed(exc)
                for key, seen in unknown.items():
                    newer = self._unknown.get(key)
                    if newer is not None:
                        seen.count += newer.count
                        seen.last_seen, seen.address = newer.last_seen, newer.address
                        seen.hint = newer.hint
                    self._unknown[key] = seen
                return
            self._bookkeeping.recovered()
        if unknown:
            self.unknown_changes.notify()

    def _log_refused(self) -> None:
        """Say that sightings were refused: at once the first time, then once a minute."""
        now = time.monotonic()
        if self.inbox_refused == self._refused_logged or (
            self._refused_logged and now - self._refused_logged_at < REFUSED_LOG_EVERY_S
        ):
            return
        logger.warning(
            "unknown devices inbox full (%d in all, at most %d per address): %d sighting(s) "
            "of new device ids refused so far, the latest from %s",
            len(self._inbox),
            INBOX_PER_ADDRESS,
            self.inbox_refused,
            self._refused_from,
        )
        self._refused_logged, self._refused_logged_at = self.inbox_refused, now

    async def run(self) -> None:
        """Flush bookkeeping every ``flush_interval_s``, re-read the index now and then."""
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.refresh_interval_s
        try:
            while True:
                await asyncio.sleep(self.flush_interval_s)
                await self.flush()
                if loop.time() >= next_refresh:
                    next_refresh = loop.time() + self.refresh_interval_s
                    try:
                        await self.refresh()
                    except Exception:
                        logger.exception("reloading the IoT device index failed")
        finally:
            if self._unknown or any(not h.flushed for h in self._heard.values()):
                await asyncio.shield(self.flush())

    # -- inbox and claiming ---------------------------------------------------------------

    async def unknown_devices(self) -> list[UnknownEntry]:
        """The inbox as stored, after writing what is pending."""
        await self.flush()
        return await self._db.run(self.repository.list_unknown)

    async def claim(
        self, unknown_id: int, vehicle: int | VehicleFields, *, vendor: str | None = None
    ) -> DeviceEntry:
        """Make inbox device ``unknown_id`` the device of ``vehicle``; ClaimError if not.

        ``vehicle`` is an existing vehicle's id, or the fields of a new vehicle, created
        first with every rule of Add Vehicle checked (VehicleInvalid). From the next frame
        on the device's data is stored: it kept its unacknowledged readings and re-sends.
        """
        if isinstance(vehicle, VehicleFields):
            vehicle = await VehicleService(self._db).add(vehicle)
        await self.flush()
        entry = await self._db.run(
            partial(self.repository.claim, guess_vendor=vendor_for_protocol),
            unknown_id,
            vehicle,
            vendor,
        )
        self._index[entry.device_id] = self._by_vehicle[vehicle] = entry
        self._forget_inbox(entry.device_id)
        return entry


def _host(peer: str) -> str:
    """The address part of ``host:port`` (IPv6 too); a serial port path as it is."""
    host, colon, _port = peer.rpartition(":")
    return host if colon else peer
