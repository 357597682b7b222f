"""Alert rules and de-duplication (pure; no Qt, no database).

:func:`conditions` turns one vehicle's facts into the conditions that hold now;
:class:`AlertTracker` turns conditions into alert changes with the rules operators ask
for (product.md 2c, 4.4): one alert per vehicle and kind while the condition persists
(``last_seen`` moves, nothing new is raised), a condition that goes away and comes back
within ``clear_after_s`` is the SAME alert (its ``count`` goes up: a flap, not a new
alert), level alerts clear only ``hysteresis_pct`` above their threshold, and "silent"
is not raised while a vehicle is charging, not ready or in maintenance (Levy suppresses
the disconnect alert in those states).

Zones (issue #19) come in as stored presence (app.services.zones), so the GPS margin's
hysteresis is already applied: "outside the service area" holds while a vehicle is in no
service area (critical during a rental, the rider took it away; there must be at least
one service area), "in a no-parking zone" while it is parked there (not moving, no open
rental: a ride passing through is not parking).

"Silent" uses the vehicle status's overdue limit (vehicle_status.overdue_after_s), so a
Smartcar car waiting for its budget-paced poll is neither silent nor Offline. "Unlocked
outside a rental" only counts a vehicle that was once seen locked (one never seen locked
tells us nothing: a tracker that does not report the lock, a demo rider) and only after it
stayed unlocked ``unlocked_grace_s``: an alarm must mean something to the control room.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import AlertSettings
from app.models.alerts import AlertChanges, OpenAlert, VehicleFacts
from app.models.enums import ConnectionStatus, ConnectionType, VehicleStatus
from app.services.vehicles.status import is_overdue, overdue_after_s


class AlertKind(enum.StrEnum):
    LOW_FUEL = "low_fuel"
    LOW_CHARGE = "low_charge"
    DOOR_OPEN = "door_open"
    UNLOCKED = "unlocked_no_rental"
    SILENT = "silent"
    TIRE_LOW = "tire_pressure_low"
    OIL_LOW = "oil_life_low"
    CONNECTION_EXPIRING = "connection_expiring"
    CONNECTION_EXPIRED = "connection_expired"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    IN_NO_PARKING_ZONE = "in_no_parking_zone"


LABELS = {
    AlertKind.LOW_FUEL: "Low fuel",
    AlertKind.LOW_CHARGE: "Low charge",
    AlertKind.DOOR_OPEN: "Door open",
    AlertKind.UNLOCKED: "Unlocked outside a rental",
    AlertKind.SILENT: "Silent",
    AlertKind.TIRE_LOW: "Tire pressure low",
    AlertKind.OIL_LOW: "Oil life low",
    AlertKind.CONNECTION_EXPIRING: "Connection expiring",
    AlertKind.CONNECTION_EXPIRED: "Connection expired",
    AlertKind.OUTSIDE_SERVICE_AREA: "Outside the service area",
    AlertKind.IN_NO_PARKING_ZONE: "Parked in a no-parking zone",
}
QUIET_STATUSES = frozenset(
    {VehicleStatus.CHARGING.value, VehicleStatus.NOT_READY.value, VehicleStatus.MAINTENANCE.value}
)


@dataclass(frozen=True, slots=True)
class Condition:
    vehicle_id: int
    kind: AlertKind
    severity: str
    message: str


def _level(
    kind: AlertKind, value: float | None, threshold: float, band: float, is_open: bool, what: str
) -> Condition | None:
    if value is None:
        return None
    limit = threshold + band if is_open else threshold
    if value < limit:
        return Condition(0, kind, "warning", f"{what} at {value:g} % (below {threshold:g} %)")
    return None


def conditions(
    f: VehicleFacts, now: datetime, s: AlertSettings, open_kinds: Iterable[AlertKind] = ()
) -> list[Condition]:
    """The conditions that hold for ``f`` now; ``open_kinds`` (alerts already open for the
    vehicle) widen the level thresholds by the hysteresis band."""
    opened = set(open_kinds)
    found: list[Condition | None] = [
        _level(
            AlertKind.LOW_FUEL,
            f.fuel_pct,
            s.low_fuel_pct,
            s.hysteresis_pct,
            AlertKind.LOW_FUEL in opened,
            "Fuel",
        ),
        _level(
            AlertKind.LOW_CHARGE,
            f.battery_pct,
            s.low_charge_pct,
            s.hysteresis_pct,
            AlertKind.LOW_CHARGE in opened,
            "Charge",
        ),
    ]
    moving = f.speed_kmh is not None and f.speed_kmh > 0
    open_doors = sorted(n for n, v in (f.doors or {}).items() if v == "OPEN")
    if open_doors and (f.locked is True or (not f.in_rental and not moving)):
        where = "while locked" if f.locked else "while parked"
        found.append(
            Condition(0, AlertKind.DOOR_OPEN, "warning", f"{', '.join(open_doors)} open {where}")
        )
    if f.outside_service_area:  # stored presence, with the GPS margin's hysteresis
        during = " during a rental" if f.in_rental else ""
        found.append(
            Condition(
                0,
                AlertKind.OUTSIDE_SERVICE_AREA,
                "critical" if f.in_rental else "warning",
                f"Outside every service area{during}",
            )
        )
    if f.no_parking_zone is not None and not f.in_rental and not moving:
        found.append(
            Condition(
                0,
                AlertKind.IN_NO_PARKING_ZONE,
                "warning",
                f"Parked in the no-parking zone {f.no_parking_zone}",
            )
        )
    if f.locked is False and not f.in_rental and f.ever_locked:
        found.append(Condition(0, AlertKind.UNLOCKED, "critical", "Unlocked, not in a rental"))
    expected = f.expected_interval_s
    if (
        expected
        and f.status not in QUIET_STATUSES
        and is_overdue(f.last_heard_at, expected, now, f.watched_since)
    ):
        age = (
            "never heard"
            if f.last_heard_at is None
            else f"last heard {int((now - f.last_heard_at).total_seconds() // 60)} min ago"
        )
        found.append(
            Condition(
                0,
                AlertKind.SILENT,
                "warning",
                f"{age} (expected every {int(expected)} s, "
                f"silent after {int(overdue_after_s(expected))} s)",
            )
        )
    tires = f.tires_kpa or {}
    low = sorted(n for n, kpa in tires.items() if kpa < s.tire_low_kpa)
    if low:
        text = ", ".join(f"{n} {tires[n]:g} kPa" for n in low)
        found.append(
            Condition(0, AlertKind.TIRE_LOW, "warning", f"{text} (min {s.tire_low_kpa:g})")
        )
    if f.oil_life_pct is not None and f.oil_life_pct < s.oil_low_pct:
        found.append(Condition(0, AlertKind.OIL_LOW, "info", f"Oil life {f.oil_life_pct:g} %"))
    if f.connection_type == ConnectionType.SMARTCAR.value:
        if f.connection_status == ConnectionStatus.EXPIRED.value:
            found.append(Condition(0, AlertKind.CONNECTION_EXPIRED, "critical", "Reconnect needed"))
        elif (
            f.connection_status == ConnectionStatus.ACTIVE.value
            and f.refresh_expires_at is not None
            and f.refresh_expires_at - now <= timedelta(days=s.connection_expiring_days)
        ):
            days = max(0, (f.refresh_expires_at - now).days)
            found.append(
                Condition(
                    0,
                    AlertKind.CONNECTION_EXPIRING,
                    "warning",
                    f"Smartcar access lapses in {days} day(s) unless the car is used",
                )
            )
    return [Condition(f.vehicle_id, c.kind, c.severity, c.message) for c in found if c is not None]


class AlertTracker:
    """De-duplication and flap damping; keeps which open alerts were absent last time."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self._absent: set[tuple[int, str]] = set()
        self._since: dict[tuple[int, str], datetime] = {}  # delayed kinds, not raised yet

    def _delay(self, kind: str) -> timedelta:
        """How long a condition must hold before it is raised (only "unlocked" waits)."""
        if kind == AlertKind.UNLOCKED.value:
            return timedelta(seconds=self.settings.unlocked_grace_s)
        return timedelta(0)

    def step(
        self,
        facts: Iterable[VehicleFacts],
        open_alerts: Mapping[tuple[int, str], OpenAlert],
        now: datetime,
    ) -> AlertChanges:
        """Evaluate ``facts`` (only these vehicles) against their open alerts."""
        changes = AlertChanges()
        clear_after = timedelta(seconds=self.settings.clear_after_s)
        for f in facts:
            mine = {k: a for (v, k), a in open_alerts.items() if v == f.vehicle_id}
            present = {
                c.kind.value: c
                for c in conditions(f, now, self.settings, [AlertKind(k) for k in mine])
            }
            for kind, condition in present.items():
                key = (f.vehicle_id, kind)
                alert = mine.get(kind)
                if alert is None:
                    since = self._since.setdefault(key, now)
                    if now - since < self._delay(kind):
                        continue
                    del self._since[key]
                    changes.new.append(
                        OpenAlert(
                            None,
                            f.vehicle_id,
                            kind,
                            condition.severity,
                            condition.message,
                            now,
                            now,
                        )
                    )
                    continue
                if key in self._absent:  # it went away and came back: a flap, same alert
                    self._absent.discard(key)
                    alert.count += 1
                alert.last_seen, alert.message = now, condition.message
                alert.severity = condition.severity
                changes.updated.append(alert)
            if AlertKind.UNLOCKED.value not in present:
                self._since.pop((f.vehicle_id, AlertKind.UNLOCKED.value), None)
            for kind, alert in mine.items():
                if kind in present:
                    continue
                key = (f.vehicle_id, kind)
                if now - alert.last_seen >= clear_after:
                    self._absent.discard(key)
                    if alert.id is not None:
                        changes.cleared.append(alert.id)
                else:
                    self._absent.add(key)
        return changes
