"""Maintenance plans for the demo fleet, so a demo shows due and overdue service at once.

Demo batteries start between 40 and 100 % and drain about 2.5 % per km ridden, so the
first battery swap appears only after half an hour or more of riding; a service plan by
time needs no telemetry at all. Every demo car gets the usual "every 15,000 km or 12
months" plan; the last services are spread over the past year so that two cars are
overdue (their repair tasks appear at the task rules' first sweep), one is due within a
week and the rest later. Deterministic: the same fleet always gets the same plans.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.models.enums import VehicleKind
from app.models.field_tasks import Plan, TaskRepository
from app.models.vehicles import VehicleRepository
from app.services.field_tasks.maintenance import add_months

#: Days past (or, negative, before) the twelve months, for the first cars in fleet order.
FIRST_CARS_DAYS_PAST_DUE = (10, 2, -5)


def seed_demo_plans(vehicles: VehicleRepository, tasks: TaskRepository, now: datetime) -> int:
    """Store a plan for every demo car (blocking; the demo seeding calls it once)."""
    cars = [r.id for r in vehicles.list_rows() if r.kind == VehicleKind.CAR.value]
    for index, car in enumerate(cars):
        if index < len(FIRST_CARS_DAYS_PAST_DUE):
            last = add_months(now, -12) - timedelta(days=FIRST_CARS_DAYS_PAST_DUE[index])
        else:
            last = add_months(now, -(1 + index % 11))
        plan = Plan(car, every_km=15_000, every_months=12, last_service_at=last)
        tasks.save_plan(plan, now)
    return len(cars)
