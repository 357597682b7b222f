"""Is a vehicle standing still? Judged from its speed, else from its positions (pure).

Issue #13 item 8: no speed reading must not count as "not moving", yet Smartcar (v2.0)
reports no speed at all, so asking for an override on every Smartcar start would teach
dispatchers to type a reason blindly. Positions say enough in most cases:

* a fresh speed reading decides (0 = parked, > 0 = moving): it is the vehicle's own word;
* else the fixes (newest first, the fresh read included) are compared with the newest
  one. Every fix within ``TOLERANCE_M`` of it, walking back, is the same position; if
  that run spans at least ``PARKED_AFTER`` the vehicle is parked since the run's first fix;
* else a fix farther than the tolerance less than ``MOVING_WITHIN`` before the newest
  means it is (or just was) driving: refused like a speed above zero;
* anything else (one fix, old fixes, a long silence) is unknown: the gate's override.

Each fix is compared with the newest one, not with its neighbour, so GPS jitter does not
add up into "movement". The tolerance is fixed: the stored fixes carry no accuracy
(Smartcar's location has none; only one IoT codec reports an HDOP, which is not stored),
and 50 m covers consumer GPS scatter while a car that drives off is past it within
seconds. The store keeps a sample only when a value changes (or hourly as a heartbeat),
so a parked car's run usually starts at the fix where it arrived: "since" is then the
arrival, which is what the operator wants to know.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.models.track_queries import Fix

TOLERANCE_M = 50.0
#: Same position over this long is "parked" (longer than a red light or a drop-off).
PARKED_AFTER = timedelta(minutes=5)
#: A move within this long before the newest fix means "moving" (two poll intervals).
MOVING_WITHIN = timedelta(minutes=10)
#: How far back the stored fixes are read: the store writes an hourly heartbeat sample,
#: so a car parked for hours still has one fix in this window besides the fresh read.
LOOKBACK = timedelta(hours=2)
#: Enough fixes for the run plus the move before it (a driving car polled every 5 min).
LOOKBACK_FIXES = 100
_EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG); haversine error < 0.5 %, fine at 50 m


class Motion(StrEnum):
    PARKED = "parked"
    MOVING = "moving"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MotionVerdict:
    """``text`` tells the operator how the verdict was reached (the gate line);
    ``detail`` is the bare evidence of a move ("18 km/h", "420 m in 3 min")."""

    motion: Motion
    text: str
    detail: str = ""


def distance_m(a: Fix, b: Fix) -> float:
    """Great-circle distance (haversine): one formula, not worth a dependency."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    d_phi, d_lambda = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def judge_motion(
    speed_kmh: float | None, fixes: Sequence[Fix], now: datetime, fresh_within: timedelta
) -> MotionVerdict:
    """``speed_kmh``: a fresh speed reading or None; ``fixes``: newest first, any length.

    A newest fix older than ``fresh_within`` says nothing about now (unknown)."""
    if speed_kmh is not None:
        if speed_kmh > 0:
            detail = f"{speed_kmh:g} km/h"
            return MotionVerdict(Motion.MOVING, f"Moving: {detail} reported.", detail)
        return MotionVerdict(Motion.PARKED, "Parked: the vehicle reports 0 km/h.")
    ordered = sorted(fixes, key=lambda f: f.at, reverse=True)
    if not ordered:
        return MotionVerdict(
            Motion.UNKNOWN, "Motion unknown: no speed reading and no position from the vehicle."
        )
    newest = ordered[0]
    age = now - newest.at
    if age > fresh_within:
        return MotionVerdict(
            Motion.UNKNOWN,
            f"Motion unknown: no speed reading, and the last position is {_minutes(age)} old.",
        )
    run = 1
    while run < len(ordered) and distance_m(ordered[run], newest) <= TOLERANCE_M:
        run += 1
    first = ordered[run - 1]
    if newest.at - first.at >= PARKED_AFTER:
        return MotionVerdict(
            Motion.PARKED, f"Parked: same position since {first.at:%H:%M} UTC ({run} reads)."
        )
    if run < len(ordered):
        moved = ordered[run]
        took = newest.at - moved.at
        if took <= MOVING_WITHIN:
            detail = f"{distance_m(moved, newest):,.0f} m in {_minutes(took)}"
            return MotionVerdict(
                Motion.MOVING,
                f"Moving: {detail} (try again once it has stood still for "
                f"{_minutes(PARKED_AFTER)}).",
                detail,
            )
    if len(ordered) == 1:
        why = "this vehicle reports no speed and has one position"
    elif run == 1:
        before = ordered[1]
        why = (
            f"this vehicle reports no speed and has one position here "
            f"({distance_m(before, newest):,.0f} m away {_minutes(newest.at - before.at)} earlier)"
        )
    else:
        why = (
            f"no speed reading, and the position has been the same for "
            f"{_minutes(newest.at - first.at)} (less than {_minutes(PARKED_AFTER)})"
        )
    return MotionVerdict(Motion.UNKNOWN, f"Motion unknown: {why}.")


def _minutes(span: timedelta) -> str:
    minutes = max(0, round(span.total_seconds() / 60))
    return f"{minutes} min"
