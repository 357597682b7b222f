"""The ``alert`` table: open alerts for the tracker, the inbox list, acknowledgement, and
the facts the alert rules read (one query over vehicle, state, device, connection, rental).
Also the plain data the rules and the repository share (facts, open alerts, changes).

Blocking; call through ``Database.run``. A Smartcar car's expected report interval comes
from the cron's pacing, which the caller hands in (``smartcar_interval``): the policy is
the services', the query is here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult

from app.models.database import Database
from app.models.enums import ConnectionType, VehicleStatus
from app.models.orm import (
    Alert,
    IotDevice,
    Rental,
    SmartcarConnection,
    TelemetrySample,
    Vehicle,
    VehicleState,
)
from app.models.zones import zone_verdicts

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

#: (requests this month, budget month, last heard, powertrain, granted scopes) -> the
#: seconds between a Smartcar car's polls as the cron paces it.
SmartcarInterval = Callable[[int, str, datetime | None, str | None, tuple[str, ...]], float]


@dataclass(frozen=True, slots=True)
class VehicleFacts:
    """Everything the rules look at for one vehicle (None = unknown, never alarming)."""

    vehicle_id: int
    status: str = VehicleStatus.AVAILABLE.value
    connection_type: str = ConnectionType.NONE.value
    fuel_pct: float | None = None
    battery_pct: float | None = None
    speed_kmh: float | None = None
    locked: bool | None = None
    doors: Mapping[str, str] | None = None
    tires_kpa: Mapping[str, float] | None = None
    oil_life_pct: float | None = None
    charging: bool | None = None  # the latest reported charging flag ...
    charging_at: datetime | None = None  # ... and when the vehicle recorded it
    last_heard_at: datetime | None = None
    expected_interval_s: float | None = None  # IoT device interval, or the paced poll interval
    in_rental: bool = False
    ever_locked: bool = False  # some stored report had it locked
    watched_since: datetime | None = None  # when the evaluating process started listening
    connection_status: str | None = None
    refresh_expires_at: datetime | None = None
    outside_service_area: bool = False  # in no service area (and there is one)
    no_parking_zone: str | None = None  # the no-parking zone it stands in, by name


@dataclass(slots=True)
class OpenAlert:
    """An alert row that is not cleared (as the tracker needs it)."""

    id: int | None
    vehicle_id: int
    kind: str
    severity: str
    message: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1


@dataclass
class AlertChanges:
    """What to write: new alerts, updated open ones, ids to clear (at ``now``)."""

    new: list[OpenAlert] = field(default_factory=list)
    updated: list[OpenAlert] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.new or self.updated or self.cleared)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    vehicle_id: int
    vehicle_name: str
    fleet_number: str
    kind: str
    severity: str
    message: str
    first_seen: datetime
    last_seen: datetime
    count: int
    cleared_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


def _open(a: Alert) -> OpenAlert:
    return OpenAlert(
        a.id, a.vehicle_id, a.kind, a.severity, a.message, a.first_seen, a.last_seen, a.count
    )


class AlertRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def open_alerts(
        self, vehicle_ids: Iterable[int] | None = None
    ) -> dict[tuple[int, str], OpenAlert]:
        query = select(Alert).where(Alert.cleared_at.is_(None))
        if vehicle_ids is not None:
            query = query.where(Alert.vehicle_id.in_(list(vehicle_ids)))
        with self._db.session() as s:
            return {(a.vehicle_id, a.kind): _open(a) for a in s.scalars(query)}

    def latest_id(self) -> int:
        """The newest alert's id (0: none yet): where a reader of new alerts starts."""
        with self._db.session() as s:
            return s.scalar(select(func.coalesce(func.max(Alert.id), 0))) or 0

    def raised_after(self, alert_id: int) -> list[OpenAlert]:
        """The alerts raised since the one with ``alert_id`` (cleared since or not), oldest
        first: a shared console's desktop notifications of what the collector raised."""
        query = select(Alert).where(Alert.id > alert_id).order_by(Alert.id)
        with self._db.session() as s:
            return [_open(a) for a in s.scalars(query)]

    def apply(self, changes: AlertChanges, now: datetime) -> None:
        """Write one evaluation's changes in one transaction; the new alerts get their ids."""
        with self._db.session() as s:
            added = [
                Alert(
                    vehicle_id=a.vehicle_id,
                    kind=a.kind,
                    severity=a.severity,
                    message=a.message,
                    first_seen=a.first_seen,
                    last_seen=a.last_seen,
                    count=a.count,
                )
                for a in changes.new
            ]
            s.add_all(added)
            s.flush()
            for a, row in zip(changes.new, added, strict=True):
                a.id = row.id  # the notifications name the alert they are about
            for a in changes.updated:
                s.execute(
                    update(Alert)
                    .where(Alert.id == a.id)
                    .values(
                        last_seen=a.last_seen, count=a.count, message=a.message, severity=a.severity
                    )
                )
            if changes.cleared:
                s.execute(update(Alert).where(Alert.id.in_(changes.cleared)).values(cleared_at=now))

    def acknowledge(self, alert_ids: Iterable[int], who: str, now: datetime) -> int:
        with self._db.session() as s:
            result = s.execute(
                update(Alert)
                .where(Alert.id.in_(list(alert_ids)), Alert.acknowledged_at.is_(None))
                .values(acknowledged_by=who[:80], acknowledged_at=now)
            )
            return cast(CursorResult[Any], result).rowcount or 0

    def inbox(
        self,
        *,
        include_cleared: bool = False,
        include_acknowledged: bool = True,
        kind: str | None = None,
        limit: int = 2000,
    ) -> list[AlertRecord]:
        """Alerts for the inbox: most severe, then most recent first."""
        query = select(Alert, Vehicle).join(Vehicle, Vehicle.id == Alert.vehicle_id)
        if not include_cleared:
            query = query.where(Alert.cleared_at.is_(None))
        if not include_acknowledged:
            query = query.where(Alert.acknowledged_at.is_(None))
        if kind:
            query = query.where(Alert.kind == kind)
        with self._db.session() as s:
            rows = s.execute(query.order_by(Alert.last_seen.desc()).limit(limit)).all()
            records = [
                AlertRecord(
                    a.id,
                    a.vehicle_id,
                    v.name,
                    v.fleet_number,
                    a.kind,
                    a.severity,
                    a.message,
                    a.first_seen,
                    a.last_seen,
                    a.count,
                    a.cleared_at,
                    a.acknowledged_by,
                    a.acknowledged_at,
                )
                for a, v in rows
            ]
        records.sort(key=lambda r: (r.cleared_at is not None, SEVERITY_RANK.get(r.severity, 3)))
        return records

    def vehicles_with_open_alerts(self) -> dict[int, str]:
        """vehicle id -> its most severe open alert's severity (the fleet list's sort key)."""
        with self._db.session() as s:
            rows = s.execute(
                select(Alert.vehicle_id, Alert.severity).where(Alert.cleared_at.is_(None))
            ).all()
        worst: dict[int, str] = {}
        for vehicle_id, severity in rows:
            if vehicle_id not in worst or SEVERITY_RANK.get(severity, 3) < SEVERITY_RANK.get(
                worst[vehicle_id], 3
            ):
                worst[vehicle_id] = severity
        return worst

    def facts(
        self,
        vehicle_ids: Iterable[int] | None,
        smartcar_interval: SmartcarInterval,
        open_states: Iterable[str],
    ) -> list[VehicleFacts]:
        """The alert rules' (and the status rules') input for ``vehicle_ids`` (None = every
        live vehicle). ``expected_interval_s`` is the IoT device's interval, or the Smartcar
        car's poll interval as the cron paces it (``smartcar_interval``)."""
        newest = (
            select(func.max(SmartcarConnection.id)).group_by(SmartcarConnection.vehicle_id)
        ).scalar_subquery()
        query = (
            select(Vehicle, VehicleState, IotDevice, SmartcarConnection)
            .outerjoin(VehicleState, VehicleState.vehicle_id == Vehicle.id)
            .outerjoin(IotDevice, IotDevice.vehicle_id == Vehicle.id)
            .outerjoin(
                SmartcarConnection,
                (SmartcarConnection.vehicle_id == Vehicle.id) & SmartcarConnection.id.in_(newest),
            )
            .where(Vehicle.archived_at.is_(None))
        )
        if vehicle_ids is not None:
            vehicle_ids = list(vehicle_ids)
            query = query.where(Vehicle.id.in_(vehicle_ids))
        zones = zone_verdicts(self._db, vehicle_ids)
        with self._db.session() as s:
            rented = set(
                s.scalars(select(Rental.vehicle_id).where(Rental.state.in_(list(open_states))))
            )
            out: dict[int, VehicleFacts] = {}
            for v, st, dev, conn in s.execute(query):
                if v.id in out:
                    continue
                heard = [t for t in (st and st.last_heard_at, dev and dev.last_heard_at) if t]
                interval = None
                if dev is not None:
                    interval = float(dev.expected_interval_s)
                elif conn is not None and conn.status == "active":
                    interval = smartcar_interval(
                        conn.requests_this_month,
                        conn.budget_month,
                        max(heard) if heard else None,
                        v.powertrain,
                        tuple(conn.granted_scopes or ()),
                    )
                out[v.id] = VehicleFacts(
                    vehicle_id=v.id,
                    status=v.status,
                    connection_type=v.connection_type,
                    fuel_pct=st.fuel_pct if st else None,
                    battery_pct=st.battery_pct if st else None,
                    speed_kmh=st.speed_kmh if st else None,
                    locked=st.locked if st else None,
                    doors=st.doors if st else None,
                    tires_kpa=st.tires_kpa if st else None,
                    oil_life_pct=st.oil_life_pct if st else None,
                    charging=st.charging if st else None,
                    charging_at=_field_time(st, "charging"),
                    last_heard_at=max(heard) if heard else None,
                    expected_interval_s=interval,
                    in_rental=v.id in rented,
                    connection_status=conn.status if conn else None,
                    refresh_expires_at=conn.refresh_expires_at if conn else None,
                    outside_service_area=v.id in zones and zones[v.id].outside_service_area,
                    no_parking_zone=zones[v.id].no_parking_zone if v.id in zones else None,
                )
            return list(out.values())

    def ever_locked(self, vehicle_ids: list[int]) -> set[int]:
        """Which of these vehicles ever reported being locked (their stored history)."""
        found: set[int] = set()
        with self._db.session() as s:
            for start in range(0, len(vehicle_ids), 500):
                chunk = vehicle_ids[start : start + 500]
                found.update(
                    s.scalars(
                        select(TelemetrySample.vehicle_id)
                        .where(
                            TelemetrySample.vehicle_id.in_(chunk),
                            TelemetrySample.locked.is_(True),
                        )
                        .distinct()
                    )
                )
        return found


def _field_time(state: VehicleState | None, column: str) -> datetime | None:
    """When the vehicle recorded ``column`` of its latest state (the store's field_times)."""
    stamp = (state.field_times or {}).get(column) if state is not None else None
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)
