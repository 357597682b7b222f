"""May this vehicle be rented now? The check every rental start runs first (pure).

Product rules (product.md 3.1, seed "All Permissions Required"): a Smartcar car needs an
Active connection with all eight permissions, each missing one named; any vehicle needs
fresh telemetry (``telemetry.stale_after_min``) and must not be in another open rental;
a vehicle without a connection cannot be unlocked by the console, so it cannot be rented.
Also used for readings: a value older than the freshness limit is treated as missing,
because an old fuel level would be a guess and surcharges are never guessed.

Motion: a vehicle is unlocked remotely only when it is known to stand still. No fresh
speed reading is *not* "not moving" (issue #13 item 8: the gate said Ready for a car that
was driving, and the unlock failed). Without speed (every Smartcar car) motion is judged
from the positions (:mod:`app.services.rentals.motion`): the same position for a while passes and
the gate says how it knows; a recent move is refused like a speed above zero; otherwise
motion is unknown, an overridable problem: the operator who has checked that the vehicle
is parked (a call, a camera) starts anyway with a reason, which the rental's log records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.models.connections import ConnectionRecord
from app.models.enums import ConnectionStatus, ConnectionType
from app.models.telemetry_queries import LatestState
from app.models.track_queries import Fix
from app.services.connections.health import PERMISSIONS, missing_permissions
from app.services.rentals.motion import Motion, MotionVerdict, judge_motion
from app.services.rentals.surcharges import Readings


@dataclass(frozen=True, slots=True)
class GateFacts:
    vehicle_id: int
    connection_type: str
    archived: bool
    connection: ConnectionRecord | None
    has_iot_device: bool
    latest: LatestState | None
    open_rental_id: int | None
    #: Stored fixes before the latest state's position, any order (recent_fixes).
    fixes: tuple[Fix, ...] = ()


@dataclass(frozen=True, slots=True)
class GateResult:
    """``problems`` block the start; ``overridable`` (also listed in ``problems``) block it
    unless the operator gives a reason; ``motion`` says how motion was judged (shown even
    when it passes, so the operator sees why "parked" is believed)."""

    problems: tuple[str, ...]
    overridable: tuple[str, ...] = ()
    motion: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def allows(self, override_reason: str) -> bool:
        """May the rental start with this override reason ("" = none)?"""
        hard = [p for p in self.problems if p not in self.overridable]
        return not hard and (not self.problems or bool(override_reason.strip()))


def heard_at(latest: LatestState | None) -> datetime | None:
    if latest is None:
        return None
    stamps = [t for t in (latest.last_heard_at, latest.recorded_at) if t is not None]
    return max(stamps) if stamps else None


def is_fresh(latest: LatestState | None, now: datetime, stale_after: timedelta) -> bool:
    when = heard_at(latest)
    return when is not None and now - when <= stale_after


def check_gate(facts: GateFacts, now: datetime, stale_after: timedelta) -> GateResult:
    problems: list[str] = []
    if facts.archived:
        problems.append("The vehicle is archived.")
    if facts.open_rental_id is not None:
        problems.append(f"The vehicle is already in rental #{facts.open_rental_id}.")
    if facts.connection_type == ConnectionType.SMARTCAR.value:
        c = facts.connection
        if c is None or not c.can_call:
            problems.append("The car is not connected to Smartcar.")
        elif c.status != ConnectionStatus.ACTIVE.value:
            problems.append(
                f"The Smartcar connection is {c.status.capitalize()}, not Active"
                + (f": {c.status_reason}" if c.status_reason else ".")
            )
        if c is not None:
            for scope in missing_permissions(c.granted_scopes):
                info = PERMISSIONS[scope]
                problems.append(f"Missing permission {info.label} (blocks {info.blocks}).")
    elif facts.connection_type == ConnectionType.IOT.value:
        if not facts.has_iot_device:
            problems.append("The vehicle has no registered IoT device.")
    else:
        problems.append("The vehicle has no connection, so the console cannot unlock it.")
    verdict = motion_of(facts.latest, facts.fixes, now, stale_after)
    overridable: list[str] = []
    if verdict.motion is Motion.UNKNOWN:
        overridable.append(
            f"{verdict.text} Make sure the vehicle is parked, then give a reason to start anyway."
        )
        problems.append(overridable[-1])
    elif verdict.motion is Motion.MOVING:
        problems.append(f"{verdict.text} It is not unlocked remotely.")
    if not is_fresh(facts.latest, now, stale_after):
        when = heard_at(facts.latest)
        if when is None:
            problems.append("No telemetry has been received from the vehicle yet.")
        else:
            minutes = int((now - when).total_seconds() // 60)
            limit = int(stale_after.total_seconds() // 60)
            problems.append(f"Telemetry is {minutes} min old (limit {limit} min).")
    return GateResult(tuple(problems), tuple(overridable), verdict.text)


def motion_of(
    latest: LatestState | None, fixes: tuple[Fix, ...], now: datetime, stale_after: timedelta
) -> MotionVerdict:
    """Judge motion from a fresh speed, else the latest position plus the stored fixes."""
    speed = fresh_value(latest, "speed_kmh", now, stale_after)
    return judge_motion(speed, position_fixes(latest, fixes), now, stale_after)


def position_fixes(latest: LatestState | None, stored: tuple[Fix, ...]) -> list[Fix]:
    """The latest state's position (the fresh read, stored as a sample only when it
    changed) joined to the stored fixes, newest first, one fix per time."""
    fixes = {f.at: f for f in stored}
    lat = None if latest is None else latest.values.get("latitude")
    lon = None if latest is None else latest.values.get("longitude")
    if lat is not None and lon is not None and lat.recorded_at is not None:
        fixes[lat.recorded_at] = Fix(lat.recorded_at, lat.value, lon.value)
    return sorted(fixes.values(), key=lambda f: f.at, reverse=True)


def fresh_value(latest: LatestState | None, column: str, now: datetime, limit: timedelta) -> Any:
    """The column's latest value if recorded within ``limit`` of ``now``, else None."""
    if latest is None:
        return None
    item = latest.values.get(column)
    if item is None or item.recorded_at is None or now - item.recorded_at > limit:
        return None
    return item.value


def readings_from(
    latest: LatestState | None, now: datetime, limit: timedelta
) -> tuple[Readings, float | None, float | None]:
    """Surcharge readings plus (latitude, longitude) from fresh values only."""

    def value(column: str) -> float | None:
        return fresh_value(latest, column, now, limit)

    readings = Readings(value("fuel_pct"), value("battery_pct"), value("odometer_km"))
    return readings, value("latitude"), value("longitude")
