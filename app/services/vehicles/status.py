"""What a vehicle's operational status is now, decided from facts (pure; no Qt, no I/O).

Nobody types "In use" or "Offline": the status follows the vehicle (issue #13 item 5).
Precedence, first match wins:

1. **Maintenance / Not ready**: the operator's hold from Edit Vehicle. It wins over
   everything derived until the operator clears it, because a car in the workshop stays
   there whatever its telemetry says.
2. **In use**: the vehicle belongs to an open rental (check-in to billing).
3. **Offline**: no report for longer than :func:`overdue_after_s` of the vehicle's expected
   interval (IoT: the device's interval; Smartcar: its poll interval, stretched by budget
   pacing). A vehicle never heard from is Offline too, once it has an interval at all.
4. **Charging**: the latest charging flag says so and is fresh: recorded no longer ago than
   the Offline limit. A flag from long ago (a car whose later polls no longer read the
   charge, a device that stopped sending status packets) says nothing about now. Who sets
   the flag: a Smartcar EV's ``/charge`` state CHARGING, a GT06 terminal-info charge bit,
   a Teltonika "charger connected" I/O (see the codecs for what each protocol means).
5. **Discharged**: fuel or charge below ``[status] discharged_below_pct`` (15 %).
6. **Available** otherwise.

The same overdue limit drives the "silent" alert, so Offline and the alert never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import TelemetrySettings
from app.integrations.smartcar.client import SNAPSHOT_KINDS
from app.models.enums import VehicleStatus
from app.models.vehicles import OPERATOR_HOLDS
from app.services import poll_policy as policy

#: One report may come a whole interval late (a queued poll, a device on a weak network)
#: before the vehicle counts as overdue: twice the expected interval in all.
GRACE_INTERVALS = 1.0


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the status depends on; None means unknown (never alarming on its own)."""

    current: str
    in_rental: bool = False
    last_heard_at: datetime | None = None
    expected_interval_s: float | None = None
    watched_since: datetime | None = None  # when this process started listening
    charging: bool | None = None
    charging_at: datetime | None = None  # when the vehicle recorded ``charging``
    level_pct: float | None = None  # fuel for combustion cars, charge otherwise


def overdue_after_s(expected_interval_s: float) -> float:
    """Seconds without a report after which a vehicle is Offline and "silent"."""
    return expected_interval_s * (1.0 + GRACE_INTERVALS)


def is_overdue(
    last_heard_at: datetime | None,
    expected_s: float | None,
    now: datetime,
    watched_since: datetime | None = None,
) -> bool:
    """True when nothing came for :func:`overdue_after_s`, counted from the last report or,
    if later, from when the console started listening: a console that has just started
    (its gateway just opened, old reports from before the restart) has not yet waited long
    enough to call anyone silent, so a restart is no flood of Offline and silent alerts."""
    if not expected_s:
        return False
    stamps = [t for t in (last_heard_at, watched_since) if t is not None]
    if not stamps:
        return True
    return (now - max(stamps)).total_seconds() > overdue_after_s(expected_s)


def _fresh(recorded_at: datetime | None, expected_s: float | None, now: datetime) -> bool:
    """A value recorded within the Offline limit (any age when no interval is known)."""
    if recorded_at is None:
        return False
    return not expected_s or (now - recorded_at).total_seconds() <= overdue_after_s(expected_s)


def smartcar_interval_s(
    settings: TelemetrySettings,
    requests_this_month: int,
    budget_month: str,
    last_heard_at: datetime | None,
    paths: int = len(SNAPSHOT_KINDS),
) -> float:
    """How long after its last report a Smartcar car is next polled (``paths``: what one
    poll of the car asks for, :func:`~app.integrations.smartcar.client.snapshot_kinds`).

    The cron waits the poll interval, or longer when the monthly budget would not last
    (telemetry_policy.paced_interval_s). The pace is taken as of the last report, when the
    cron chose the wait: taken now, it would shrink as the month runs out and flag cars
    that are simply waiting for their next scheduled poll (the false "silent" alerts of
    issue #13 item 6). With no budget left the car is paused until the month turns.
    """
    interval = float(settings.poll_interval_s)
    if last_heard_at is None:
        return interval
    at = last_heard_at.timestamp()
    used = requests_this_month if budget_month == policy.month_key(at) else 0
    paced = policy.paced_interval_s(settings.monthly_request_budget, used, paths, at)
    if paced is None:
        return policy.next_month_start(at) - at + interval
    return max(interval, paced)


def derive(f: StatusFacts, now: datetime, discharged_below_pct: float) -> str:
    """The status ``f`` calls for now (see the module docstring for the precedence)."""
    if f.current in OPERATOR_HOLDS:
        return f.current
    if f.in_rental:
        return VehicleStatus.IN_USE.value
    if is_overdue(f.last_heard_at, f.expected_interval_s, now, f.watched_since):
        return VehicleStatus.OFFLINE.value
    if f.charging and _fresh(f.charging_at, f.expected_interval_s, now):
        return VehicleStatus.CHARGING.value
    if f.level_pct is not None and f.level_pct < discharged_below_pct:
        return VehicleStatus.DISCHARGED.value
    return VehicleStatus.AVAILABLE.value


def changes(
    facts: dict[int, StatusFacts], discharged_below_pct: float, now: datetime
) -> dict[int, tuple[str, str]]:
    """vehicle id -> (old, new) for the vehicles whose status must change."""
    out: dict[int, tuple[str, str]] = {}
    for vehicle_id, f in facts.items():
        new = derive(f, now, discharged_below_pct)
        if new != f.current:
            out[vehicle_id] = (f.current, new)
    return out
