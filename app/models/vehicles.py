"""Vehicle records and the fleet list: the repository the views read through.

Rows handed out are frozen dataclasses, never ORM objects, so nothing above this layer
can lazy-load or hold a session open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.models.database import Database
from app.models.enums import ConnectionType, VehicleStatus
from app.models.orm import IotDevice, SmartcarConnection, Vehicle, VehicleState

#: Statuses only an operator sets (and clears) in Edit Vehicle; every other status is
#: derived from the vehicle's rental and telemetry (app.services.vehicles.status).
OPERATOR_HOLDS = frozenset({VehicleStatus.MAINTENANCE.value, VehicleStatus.NOT_READY.value})


@dataclass(frozen=True, slots=True)
class VehicleFields:
    """What an operator types in Add / Edit Vehicle."""

    name: str
    fleet_number: str
    kind: str
    make: str = ""
    model: str = ""
    year: int | None = None
    vin: str | None = None
    imei: str | None = None
    plate: str = ""
    powertrain: str | None = None
    connection_type: str = ConnectionType.NONE.value
    status: str = "available"  # an OPERATOR_HOLDS value holds it; anything else clears a hold
    iot_vendor: str | None = None
    iot_protocol: str | None = None


class VehicleRow(NamedTuple):
    """One line of the fleet list: identity, connection and the latest readings.

    A NamedTuple rather than a dataclass: building 100,000 of them is the largest cost of
    loading the list, and tuple construction is several times cheaper.
    """

    id: int
    name: str
    fleet_number: str
    kind: str
    make: str
    model: str
    year: int | None
    vin: str | None
    imei: str | None
    plate: str
    powertrain: str | None
    connection_type: str
    connection_status: str | None
    iot_vendor: str | None
    status: str
    fuel_pct: float | None
    battery_pct: float | None
    odometer_km: float | None
    locked: bool | None
    latitude: float | None
    longitude: float | None
    last_heard_at: datetime | None
    archived: bool

    @property
    def energy_pct(self) -> float | None:
        """Fuel for combustion cars, charge for everything electric."""
        return self.fuel_pct if self.fuel_pct is not None else self.battery_pct


@dataclass(frozen=True, slots=True)
class Duplicate:
    field: str
    other_name: str
    other_fleet_number: str
    other_archived: bool


def _now() -> datetime:
    return datetime.now(UTC)


class VehicleRepository:
    """Reads and writes vehicles; every method is blocking (run it via Database.run)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _row_query(self) -> Select:
        # One live (not disconnected) connection and one device per vehicle at most; the
        # grouped subqueries keep the join one row per vehicle even if history has more.
        connection = (
            select(
                SmartcarConnection.vehicle_id,
                func.max(SmartcarConnection.id).label("id"),
            )
            .where(SmartcarConnection.status != "disconnected")
            .group_by(SmartcarConnection.vehicle_id)
            .subquery()
        )
        live = SmartcarConnection.__table__.alias("live_connection")
        device = (
            select(IotDevice.vehicle_id, func.max(IotDevice.vendor).label("vendor"))
            .group_by(IotDevice.vehicle_id)
            .subquery()
        )
        state = VehicleState.__table__
        return (
            select(
                Vehicle.id,
                Vehicle.name,
                Vehicle.fleet_number,
                Vehicle.kind,
                Vehicle.make,
                Vehicle.model,
                Vehicle.year,
                Vehicle.vin,
                Vehicle.imei,
                Vehicle.plate,
                Vehicle.powertrain,
                Vehicle.connection_type,
                live.c.status,
                device.c.vendor,
                Vehicle.status,
                state.c.fuel_pct,
                state.c.battery_pct,
                state.c.odometer_km,
                state.c.locked,
                state.c.latitude,
                state.c.longitude,
                state.c.last_heard_at,
                Vehicle.archived_at.is_not(None),
            )
            .outerjoin(state, state.c.vehicle_id == Vehicle.id)
            .outerjoin(connection, connection.c.vehicle_id == Vehicle.id)
            .outerjoin(live, live.c.id == connection.c.id)
            .outerjoin(device, device.c.vehicle_id == Vehicle.id)
        )

    def list_rows(self, *, include_archived: bool = False) -> list[VehicleRow]:
        """The whole fleet for the list (Core rows, no ORM objects: 100,000 load in < 1 s)."""
        query = self._row_query().order_by(Vehicle.id)
        if not include_archived:
            query = query.where(Vehicle.archived_at.is_(None))
        make = VehicleRow._make
        with self._db.engine.connect() as connection:
            return [make(r) for r in connection.execute(query)]

    def row(self, vehicle_id: int) -> VehicleRow | None:
        with self._db.engine.connect() as connection:
            r = connection.execute(self._row_query().where(Vehicle.id == vehicle_id)).first()
        return None if r is None else VehicleRow._make(r)

    def rows(self, vehicle_ids: Iterable[int]) -> list[VehicleRow]:
        """Current rows of several vehicles at once (live updates of the list)."""
        ids = list(vehicle_ids)
        if not ids:
            return []
        with self._db.engine.connect() as connection:
            result = connection.execute(self._row_query().where(Vehicle.id.in_(ids)))
            return [VehicleRow._make(r) for r in result]

    def count(self) -> int:
        with self._db.session() as session:
            return session.scalar(select(func.count(Vehicle.id))) or 0

    def fields(self, vehicle_id: int) -> VehicleFields:
        with self._db.session() as session:
            v = session.get_one(Vehicle, vehicle_id)
            device = session.scalars(
                select(IotDevice).where(IotDevice.vehicle_id == vehicle_id).limit(1)
            ).first()
            return VehicleFields(
                name=v.name,
                fleet_number=v.fleet_number,
                kind=v.kind,
                make=v.make,
                model=v.model,
                year=v.year,
                vin=v.vin,
                imei=v.imei,
                plate=v.plate,
                powertrain=v.powertrain,
                connection_type=v.connection_type,
                status=v.status,
                iot_vendor=device.vendor if device else None,
                iot_protocol=device.protocol if device else None,
            )

    def duplicates(
        self, fields: VehicleFields, *, exclude_id: int | None = None
    ) -> list[Duplicate]:
        """Other vehicles (archived ones included) that already use this identity."""
        checks: list[tuple[str, Any, str]] = [
            ("fleet_number", Vehicle.fleet_number, fields.fleet_number)
        ]
        if fields.vin:
            checks.append(("vin", Vehicle.vin, fields.vin))
        if fields.imei:
            checks.append(("imei", Vehicle.imei, fields.imei))
        found: list[Duplicate] = []
        with self._db.session() as session:
            query = select(Vehicle).where(or_(*(column == value for _, column, value in checks)))
            if exclude_id is not None:
                query = query.where(Vehicle.id != exclude_id)
            for other in session.scalars(query):
                for name, _, value in checks:
                    if getattr(other, name) == value:
                        found.append(
                            Duplicate(
                                name, other.name, other.fleet_number, other.archived_at is not None
                            )
                        )
        return found

    def add(self, fields: VehicleFields) -> int:
        now = _now()
        with self._db.session() as session:
            vehicle = Vehicle(created_at=now, updated_at=now, **_vehicle_columns(fields))
            session.add(vehicle)
            session.flush()
            _sync_device(session, vehicle.id, fields)
            return vehicle.id

    def add_many(self, many: list[VehicleFields]) -> list[int]:
        """Insert a batch in one transaction (demo seeding, imports)."""
        now = _now()
        with self._db.session() as session:
            vehicles = [
                Vehicle(created_at=now, updated_at=now, **_vehicle_columns(f)) for f in many
            ]
            session.add_all(vehicles)
            session.flush()
            for vehicle, fields in zip(vehicles, many, strict=True):
                _sync_device(session, vehicle.id, fields)
            return [v.id for v in vehicles]

    def update(self, vehicle_id: int, fields: VehicleFields) -> None:
        """Store the form; the status column changes only to set or clear an operator hold
        (a derived status such as In use is not the form's to overwrite)."""
        with self._db.session() as session:
            vehicle = session.get_one(Vehicle, vehicle_id)
            columns = _vehicle_columns(fields)
            if fields.status not in OPERATOR_HOLDS:
                held = vehicle.status in OPERATOR_HOLDS
                columns["status"] = VehicleStatus.AVAILABLE.value if held else vehicle.status
            for key, value in columns.items():
                setattr(vehicle, key, value)
            vehicle.updated_at = _now()
            _sync_device(session, vehicle_id, fields)

    def set_statuses(self, changes: dict[int, tuple[str, str]]) -> list[int]:
        """Apply ``{vehicle id: (old, new)}``; a row whose status is no longer ``old`` (an
        operator set a hold meanwhile) is left alone. Returns the ids actually changed."""
        written: list[int] = []
        with self._db.session() as session:
            for vehicle_id, (old, new) in changes.items():
                result = session.execute(
                    update(Vehicle)
                    .where(and_(Vehicle.id == vehicle_id, Vehicle.status == old))
                    .values(status=new)
                )
                if cast(CursorResult[Any], result).rowcount:
                    written.append(vehicle_id)
        return written

    def set_archived(self, vehicle_id: int, archived: bool) -> None:
        with self._db.session() as session:
            vehicle = session.get_one(Vehicle, vehicle_id)
            vehicle.archived_at = _now() if archived else None
            vehicle.updated_at = _now()


def _vehicle_columns(fields: VehicleFields) -> dict[str, object]:
    return {
        "name": fields.name,
        "fleet_number": fields.fleet_number,
        "kind": fields.kind,
        "make": fields.make,
        "model": fields.model,
        "year": fields.year,
        "vin": fields.vin or None,
        "imei": fields.imei or None,
        "plate": fields.plate,
        "powertrain": fields.powertrain,
        "connection_type": fields.connection_type,
        "status": fields.status,
    }


def _sync_device(session: Session, vehicle_id: int, fields: VehicleFields) -> None:
    """Keep the vehicle's IoT device row in step with its IMEI, vendor and protocol."""
    device = session.scalars(select(IotDevice).where(IotDevice.vehicle_id == vehicle_id)).first()
    imei = fields.imei
    if fields.connection_type != ConnectionType.IOT.value or not imei:
        return
    if device is None:
        session.add(
            IotDevice(
                vehicle_id=vehicle_id,
                vendor=fields.iot_vendor or "",
                protocol=fields.iot_protocol or "",
                device_id=imei,
            )
        )
    else:
        device.vendor = fields.iot_vendor or device.vendor
        device.protocol = fields.iot_protocol or device.protocol
        device.device_id = imei
