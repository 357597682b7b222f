"""The rules that create field tasks from what the fleet reports (pure; no database).

* battery below ``[tasks] battery_swap_below_pct`` on a scooter or e-bike -> battery swap
  (a car's low charge is a charging job, not a swap; not while it charges);
* silent longer than ``[tasks] silent_after_min`` -> inspection: someone goes to the last
  position to look (a silent vehicle is mostly a flat tracker or no coverage, not yet a
  case for the van; whoever inspects can ask for a collect);
* maintenance due (app.services.field_tasks.maintenance) -> repair: a service needs the
  workshop, unlike an inspection in the street, and keeping it apart from the silence
  inspection keeps both visible;
* an open ``outside_service_area`` alert (the zones' alert kind) -> rebalance.

A rule never asks for a kind the vehicle already has open (the caller hands in the open
kinds; the database's partial unique index backs this up under races). Silence counts
from ``watched_since`` at the earliest, as the alerts do: a console started after a night
off does not send the whole fleet to inspection before the first reports arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import TaskSettings
from app.models.enums import VehicleKind, VehicleStatus
from app.models.field_tasks import TaskFacts
from app.services.field_tasks.maintenance import assess
from app.services.field_tasks.states import TaskKind, TaskPriority

SWAPPABLE = frozenset({VehicleKind.SCOOTER.value, VehicleKind.EBIKE.value})


@dataclass(frozen=True, slots=True)
class WantedTask:
    vehicle_id: int
    kind: TaskKind
    priority: TaskPriority
    reason: str


def wanted(
    f: TaskFacts,
    now: datetime,
    s: TaskSettings,
    open_kinds: Iterable[str] = (),
    watched_since: datetime | None = None,
) -> list[WantedTask]:
    """The tasks the rules ask for this vehicle now, leaving out kinds already open."""
    out: list[WantedTask] = []
    limit = s.battery_swap_below_pct
    if (
        f.vehicle_kind in SWAPPABLE
        and f.battery_pct is not None
        and f.battery_pct < limit
        and not f.charging
    ):
        urgent = f.battery_pct < limit / 2
        out.append(
            WantedTask(
                f.vehicle_id,
                TaskKind.BATTERY_SWAP,
                TaskPriority.HIGH if urgent else TaskPriority.NORMAL,
                f"battery at {f.battery_pct:g} % (below {limit:g} %)",
            )
        )
    since = f.last_heard_at
    if since is not None and watched_since is not None:
        since = max(since, watched_since)
    silent_for = now - since if since is not None else None
    if (
        silent_for is not None
        and silent_for > timedelta(minutes=s.silent_after_min)
        and f.status != VehicleStatus.MAINTENANCE.value
    ):
        minutes = math.ceil(silent_for.total_seconds() / 60)
        out.append(
            WantedTask(
                f.vehicle_id,
                TaskKind.INSPECTION,
                TaskPriority.NORMAL,
                f"silent for {minutes} min (more than {s.silent_after_min} min)",
            )
        )
    if f.plan is not None:
        due = assess(f.plan, f.odometer_km, f.oil_life_pct, now)
        if due is not None and due.due:
            out.append(
                WantedTask(
                    f.vehicle_id,
                    TaskKind.REPAIR,
                    TaskPriority.HIGH if due.overdue else TaskPriority.NORMAL,
                    f"maintenance {due.text}",
                )
            )
    if f.outside_service_area:
        out.append(
            WantedTask(
                f.vehicle_id, TaskKind.REBALANCE, TaskPriority.NORMAL, "outside the service area"
            )
        )
    have = set(open_kinds)
    return [w for w in out if w.kind.value not in have]
