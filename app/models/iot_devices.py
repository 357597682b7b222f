"""IoT device records: the registered devices, the unknown-devices inbox, and claiming.

Every function is blocking and meant for the database thread (``database.run``). The
ingest service keeps its own in-memory index of registered devices built from
:func:`load_index`, so the gateway never waits on the database to tell a known device
from an unknown one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, delete, select, update

from app.models.database import Database
from app.models.enums import ConnectionType
from app.models.orm import IotDevice, UnknownDevice, Vehicle

logger = logging.getLogger(__name__)

_IMEI_RE = re.compile(r"^\d{15}$")
_HEARD_COLUMNS = ("last_heard_at", "address", "firmware", "protocol")


class ClaimError(ValueError):
    """The device cannot be claimed into that vehicle; the message says why."""


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the ingest needs to know about one registered device."""

    vehicle_id: int
    device_id: str
    protocol: str  # "" when registered without one: the first frame's protocol is taken
    vendor: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The device as the detail panel shows it."""

    vehicle_id: int
    device_id: str
    vendor: str
    protocol: str
    transport: str
    serial_port: str | None
    baud: int | None
    address: str | None
    firmware: str | None
    last_heard_at: datetime | None


@dataclass(frozen=True, slots=True)
class UnknownEntry:
    """One row of the unknown-devices inbox."""

    id: int
    device_id: str
    protocol: str
    address: str
    first_seen: datetime
    last_seen: datetime
    count: int
    hint: str = ""  # what is wrong, for a device on another protocol's port


@dataclass(slots=True)
class UnknownSighting:
    """Frames of one unknown device seen since the last flush (merged in memory)."""

    address: str
    first_seen: datetime
    last_seen: datetime
    count: int
    hint: str = ""  # the latest sighting's: "" once the device came to the right port


@dataclass(slots=True)
class Heard:
    """What the gateway learnt about a registered device since the last flush."""

    last_heard_at: datetime
    address: str
    protocol: str
    firmware: str | None = None
    flushed: bool = False  # already written to iot_device


@dataclass(frozen=True, slots=True)
class ClaimCandidate:
    """A vehicle a device can be claimed into (it has no device yet)."""

    vehicle_id: int
    name: str
    fleet_number: str
    kind: str


class IotDeviceRepository:
    """Reads and writes iot_device and unknown_device rows (blocking)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def load_index(self) -> dict[str, DeviceEntry]:
        """Every registered device; also clears inbox rows of devices registered since.

        An operator may register an unknown device through Edit Vehicle (typing its IMEI)
        instead of claiming it; the inbox must not keep listing it then.
        """
        with self._db.session() as session:
            rows = session.execute(
                select(
                    IotDevice.vehicle_id, IotDevice.device_id, IotDevice.protocol, IotDevice.vendor
                )
            ).all()
            index = {
                r.device_id: DeviceEntry(r.vehicle_id, r.device_id, r.protocol, r.vendor)
                for r in rows
            }
            stale = session.scalars(select(UnknownDevice.device_id)).all()
            gone = [d for d in stale if d in index]
            if gone:
                session.execute(delete(UnknownDevice).where(UnknownDevice.device_id.in_(gone)))
        return index

    def device(self, vehicle_id: int) -> DeviceInfo | None:
        with self._db.session() as session:
            d = session.scalars(
                select(IotDevice).where(IotDevice.vehicle_id == vehicle_id).limit(1)
            ).first()
            if d is None:
                return None
            return DeviceInfo(
                d.vehicle_id,
                d.device_id,
                d.vendor,
                d.protocol,
                d.transport,
                d.serial_port,
                d.baud,
                d.address,
                d.firmware,
                d.last_heard_at,
            )

    def record_heard(self, heard: Mapping[str, Heard]) -> None:
        """Store last heard / address / firmware (and a learnt protocol) in one transaction.

        Core rows, not ORM objects: this runs every second for every device heard (the
        whole fleet under load), where loading and flushing an object per device cost a
        tenth of a core at 2,000 devices. As the ORM's flush did, only devices whose
        values change are updated, in one executemany.
        """
        if not heard:
            return
        table = IotDevice.__table__
        c = table.c
        query = select(c.id, c.device_id, c.last_heard_at, c.address, c.firmware, c.protocol)
        changed = []
        with self._db.session() as session:
            for row in session.execute(query.where(c.device_id.in_(list(heard)))):
                h = heard[row.device_id]
                new = {
                    "p_id": row.id,
                    "last_heard_at": row.last_heard_at
                    if row.last_heard_at is not None and h.last_heard_at <= row.last_heard_at
                    else h.last_heard_at,
                    "address": h.address[:80],
                    "firmware": h.firmware[:60] if h.firmware else row.firmware,
                    "protocol": row.protocol or h.protocol,
                }
                if any(new[k] != row._mapping[k] for k in _HEARD_COLUMNS):
                    changed.append(new)
            if changed:
                statement = update(table).where(c.id == bindparam("p_id"))
                session.execute(statement, changed)

    def record_serial(self, device_id: str, port: str, baud: int) -> None:
        """Note that ``device_id`` is read from a serial port (shown in the detail panel)."""
        with self._db.session() as session:
            device = session.scalars(
                select(IotDevice).where(IotDevice.device_id == device_id)
            ).first()
            if device is None:
                return  # not registered yet: its frames go to the inbox until claimed
            device.transport, device.serial_port, device.baud = "serial", port[:200], baud

    def record_unknown(self, sightings: Mapping[tuple[str, str], UnknownSighting]) -> None:
        """Merge sightings into the inbox; devices registered meanwhile are skipped."""
        if not sightings:
            return
        with self._db.session() as session:
            ids = list({device_id for device_id, _ in sightings})
            registered = set(
                session.scalars(select(IotDevice.device_id).where(IotDevice.device_id.in_(ids)))
            )
            existing = {
                (u.device_id, u.protocol): u
                for u in session.scalars(
                    select(UnknownDevice).where(UnknownDevice.device_id.in_(ids))
                )
            }
            for (device_id, protocol), seen in sightings.items():
                if device_id in registered:
                    continue
                row = existing.get((device_id, protocol))
                if row is None:
                    session.add(
                        UnknownDevice(
                            device_id=device_id[:32],
                            protocol=protocol,
                            address=seen.address[:80],
                            first_seen=seen.first_seen,
                            last_seen=seen.last_seen,
                            count=seen.count,
                            hint=seen.hint[:200],
                        )
                    )
                else:
                    row.address = seen.address[:80]
                    if seen.last_seen >= row.last_seen:
                        row.hint = seen.hint[:200]
                    row.last_seen = max(row.last_seen, seen.last_seen)
                    row.count += seen.count

    def list_unknown(self) -> list[UnknownEntry]:
        """The inbox, most recently seen first."""
        with self._db.session() as session:
            rows = session.scalars(
                select(UnknownDevice).order_by(UnknownDevice.last_seen.desc())
            ).all()
            return [
                UnknownEntry(
                    u.id,
                    u.device_id,
                    u.protocol,
                    u.address,
                    u.first_seen,
                    u.last_seen,
                    u.count,
                    u.hint,
                )
                for u in rows
            ]

    def claim_candidates(self) -> list[ClaimCandidate]:
        """Live vehicles without a device that are not Smartcar cars, by fleet number."""
        with self._db.session() as session:
            with_device = select(IotDevice.vehicle_id)
            rows = session.execute(
                select(Vehicle.id, Vehicle.name, Vehicle.fleet_number, Vehicle.kind)
                .where(Vehicle.archived_at.is_(None))
                .where(Vehicle.connection_type != ConnectionType.SMARTCAR.value)
                .where(Vehicle.id.not_in(with_device))
                .order_by(Vehicle.fleet_number)
            ).all()
            return [ClaimCandidate(*r) for r in rows]

    def claim(
        self,
        unknown_id: int,
        vehicle_id: int,
        vendor: str | None = None,
        *,
        guess_vendor: Callable[[str], str] = lambda _protocol: "",
    ) -> DeviceEntry:
        """Register the inbox device ``unknown_id`` as ``vehicle_id``'s device.

        The vehicle may already carry a device row for the same id without a protocol
        (created by Add Vehicle with the IMEI typed in): that row is completed. A vehicle
        with a different device, or a device that belongs to another vehicle, is refused.
        Without a ``vendor`` the vehicle's device keeps its own, else ``guess_vendor``
        names one from the protocol (the vendor profiles live with the IoT integration).
        """
        with self._db.session() as session:
            unknown = session.get(UnknownDevice, unknown_id)
            if unknown is None:
                raise ClaimError("that device is no longer in the unknown devices list")
            vehicle = session.get(Vehicle, vehicle_id)
            if vehicle is None or vehicle.archived_at is not None:
                raise ClaimError("that vehicle does not exist or is archived")
            device_id, protocol = unknown.device_id, unknown.protocol
            owner = session.scalars(
                select(IotDevice).where(IotDevice.device_id == device_id)
            ).first()
            if owner is not None and owner.vehicle_id != vehicle_id:
                raise ClaimError(f"device {device_id} already belongs to another vehicle")
            current = session.scalars(
                select(IotDevice).where(IotDevice.vehicle_id == vehicle_id)
            ).first()
            if current is not None and current.device_id != device_id:
                raise ClaimError(
                    f"{vehicle.name} [{vehicle.fleet_number}] already has device "
                    f"{current.device_id}; remove it first"
                )
            chosen_vendor = vendor or (current.vendor if current else "") or guess_vendor(protocol)
            if current is None:
                current = IotDevice(
                    vehicle_id=vehicle_id, device_id=device_id, vendor=chosen_vendor
                )
                session.add(current)
            current.vendor = chosen_vendor
            current.protocol = protocol
            current.address = unknown.address[:80]
            current.last_heard_at = unknown.last_seen
            vehicle.connection_type = ConnectionType.IOT.value
            if vehicle.imei is None and _IMEI_RE.match(device_id):
                taken = session.scalars(select(Vehicle.id).where(Vehicle.imei == device_id)).first()
                if taken is None:
                    vehicle.imei = device_id
            vehicle.updated_at = datetime.now(UTC)
            session.delete(unknown)
            logger.info("device %s (%s) claimed into vehicle %s", device_id, protocol, vehicle_id)
            return DeviceEntry(vehicle_id, device_id, protocol, chosen_vendor)
