"""When a vehicle is due for service, from its plan and its latest odometer and oil life.

A plan counts every N km and/or every M months from the last service, and may also ask
for service as soon as oil life drops below a level (Traccar's maintenance is by distance
or time; cars report oil life through Smartcar). Whatever comes first decides: the
vehicle is due the moment any one criterion is reached, "overdue" once it is past.

Months are calendar months (12 months from 31 January is 31 January; one month from
31 January is the last day of February), because that is what a service book says.
Pure: no database, no Qt.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.models.field_tasks import Plan


@dataclass(frozen=True, slots=True)
class MaintenanceDue:
    """``due``: service is needed now; ``text`` is the detail panel's words after
    "Maintenance: " ("due in 1,200 km / 3 weeks", "due", "overdue by 300 km")."""

    due: bool
    overdue: bool
    text: str


def add_months(when: datetime, months: int) -> datetime:
    """``when`` plus calendar months, the day clipped to the month's last day."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def span(delta: timedelta) -> str:
    """A duration as a dispatcher says it: "5 hours", "3 days", "3 weeks", "4 months"."""
    seconds = abs(delta.total_seconds())
    hours = seconds / 3600
    if hours < 48:
        n, unit = max(1, round(hours)), "hour"
    elif hours < 14 * 24:
        n, unit = round(hours / 24), "day"
    elif hours < 61 * 24:
        n, unit = round(hours / (24 * 7)), "week"
    else:
        n, unit = round(hours / (24 * 30.44)), "month"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def assess(
    plan: Plan, odometer_km: float | None, oil_life_pct: float | None, now: datetime
) -> MaintenanceDue | None:
    """How the plan stands now; None when nothing can be said (no plan, or no reading
    and no date to count from)."""
    ahead: list[str] = []
    behind: list[str] = []
    at_limit = False
    if plan.every_km and plan.last_service_km is not None and odometer_km is not None:
        left = plan.last_service_km + plan.every_km - odometer_km
        if left > 0:
            ahead.append(f"{left:,.0f} km")
        elif left < 0:
            behind.append(f"{-left:,.0f} km")
        else:
            at_limit = True
    if plan.every_months and plan.last_service_at is not None:
        left_t = add_months(plan.last_service_at, plan.every_months) - now
        if left_t > timedelta(0):
            ahead.append(span(left_t))
        elif left_t < timedelta(0):
            behind.append(span(left_t))
        else:
            at_limit = True
    oil_low = (
        plan.oil_below_pct is not None
        and oil_life_pct is not None
        and oil_life_pct < plan.oil_below_pct
    )
    if behind:
        text = "overdue by " + " / ".join(behind)
        if oil_low:
            text += f" (oil life {oil_life_pct:g} %)"
        return MaintenanceDue(True, True, text)
    if at_limit or oil_low:
        return MaintenanceDue(
            True, False, f"due (oil life {oil_life_pct:g} %)" if oil_low else "due"
        )
    if ahead:
        return MaintenanceDue(False, False, "due in " + " / ".join(ahead))
    return None
