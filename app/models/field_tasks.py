"""The ``field_task`` and ``maintenance_plan`` tables: tasks for the Tasks window and the
rules, the facts the task rules read, the fleet list's quick-list counts, and plans.

Blocking; call through ``Database.run``. The state machine is the services'
(app.services.field_tasks.states): :meth:`TaskRepository.move` reads the row, hands its
state to the caller's check and writes the answer in one transaction (the row locked on
PostgreSQL), so two workstations moving one task cannot both win from the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.database import Database
from app.models.enums import VehicleKind, VehicleStatus
from app.models.orm import Alert, FieldTask, MaintenancePlan, Vehicle, VehicleState

#: The task states that still need someone: the partial unique index's (orm.OPEN_TASK_SQL).
OPEN_TASK_STATES = ("open", "assigned", "in_progress")
#: The zones' alert kind for a vehicle outside the service area (AlertKind value once the
#: zones are merged); matched by value, so the count and the rule work as soon as it exists.
OUTSIDE_SERVICE_AREA = "outside_service_area"
_PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class DuplicateOpenTask(ValueError):
    """The vehicle already has an open task of this kind (the database's index says so)."""

    def __init__(self, task_id: int, kind: str) -> None:
        super().__init__(
            f"the vehicle already has an open {kind.replace('_', ' ')} task (#{task_id})"
        )
        self.task_id = task_id


class TaskNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Plan:
    """A vehicle's maintenance plan (see app.services.field_tasks.maintenance)."""

    vehicle_id: int
    every_km: float | None = None
    every_months: int | None = None
    last_service_km: float | None = None
    last_service_at: datetime | None = None
    oil_below_pct: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.every_km or self.every_months or self.oil_below_pct is not None)


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What the task rules look at for one vehicle (None = unknown, never a task)."""

    vehicle_id: int
    vehicle_kind: str = VehicleKind.SCOOTER.value
    status: str = VehicleStatus.AVAILABLE.value
    battery_pct: float | None = None
    charging: bool | None = None
    last_heard_at: datetime | None = None
    odometer_km: float | None = None
    oil_life_pct: float | None = None
    plan: Plan | None = None
    outside_service_area: bool = False


@dataclass(frozen=True, slots=True)
class NewTask:
    vehicle_id: int
    kind: str
    priority: str = "normal"
    due_at: datetime | None = None
    assignee: str = ""
    notes: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: int
    vehicle_id: int
    vehicle_name: str
    fleet_number: str
    kind: str
    state: str
    priority: str
    due_at: datetime | None
    assignee: str
    notes: str
    reason: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_TASK_STATES


def sort_key(t: TaskRecord) -> tuple[object, ...]:
    """Open tasks first, most urgent first, soonest due first (no due date last)."""
    return (
        t.state not in OPEN_TASK_STATES,
        _PRIORITY_ORDER.get(t.priority, 9),
        t.due_at is None,
        t.due_at.timestamp() if t.due_at else 0.0,
        -t.id if t.state not in OPEN_TASK_STATES else t.id,
    )


#: Told of every task written, inside its transaction: (session, the task's vehicle id).
Announce = Callable[[Session, int], None]


class TaskRepository:
    def __init__(self, database: Database, *, announce: Announce | None = None) -> None:
        """``announce`` (the task service's change-feed notice) runs in the same
        transaction as each create, edit and move, so it commits, or not, with the row."""
        self._db = database
        self._announce: Announce = announce or (lambda _session, _vehicle_id: None)

    def create(self, task: NewTask, created_by: str | None, now: datetime) -> int:
        """Insert a task; DuplicateOpenTask if the vehicle has one of that kind open."""
        try:
            with self._db.session() as s:
                other = self._open_id(s, task.vehicle_id, task.kind)
                if other is not None:
                    raise DuplicateOpenTask(other, task.kind)
                row = FieldTask(
                    vehicle_id=task.vehicle_id,
                    kind=task.kind,
                    state="open",
                    priority=task.priority,
                    due_at=task.due_at,
                    assignee=task.assignee.strip()[:80],
                    notes=task.notes,
                    reason=task.reason[:200],
                    created_by=created_by[:64] if created_by else None,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                self._announce(s, row.vehicle_id)
                return row.id
        except IntegrityError as exc:
            # Lost a race: the index waited for the other commit, a fresh look names it.
            with self._db.session() as s:
                other = self._open_id(s, task.vehicle_id, task.kind)
            if other is None:
                raise
            raise DuplicateOpenTask(other, task.kind) from exc

    @staticmethod
    def _open_id(s: Session, vehicle_id: int, kind: str) -> int | None:
        return s.scalar(
            select(FieldTask.id).where(
                FieldTask.vehicle_id == vehicle_id,
                FieldTask.kind == kind,
                FieldTask.state.in_(OPEN_TASK_STATES),
            )
        )

    def edit(
        self,
        task_id: int,
        *,
        priority: str,
        due_at: datetime | None,
        assignee: str,
        notes: str,
        now: datetime,
    ) -> None:
        with self._db.session() as s:
            row = s.get(FieldTask, task_id)
            if row is None:
                raise TaskNotFound(f"task #{task_id} does not exist")
            row.priority, row.due_at = priority, due_at
            row.assignee, row.notes = assignee.strip()[:80], notes
            row.updated_at = now
            self._announce(s, row.vehicle_id)

    def move(
        self,
        task_id: int,
        check: Callable[[str, str], str],
        now: datetime,
        finished: Iterable[str],
    ) -> str:
        """Move the task to ``check(current state, assignee)`` (which raises to refuse);
        returns the new state. ``finished`` states stamp ``finished_at``."""
        with self._db.session() as s:
            row = s.get(FieldTask, task_id, with_for_update=True)
            if row is None:
                raise TaskNotFound(f"task #{task_id} does not exist")
            target = check(row.state, row.assignee)
            row.state, row.updated_at = target, now
            if target in set(finished):
                row.finished_at = now
            self._announce(s, row.vehicle_id)
            return target

    def tasks(
        self,
        *,
        states: Iterable[str] | None = None,
        kind: str | None = None,
        assignee: str | None = None,
        vehicle_id: int | None = None,
    ) -> list[TaskRecord]:
        """Tasks (filters combine), open ones first by priority and due time."""
        query = select(FieldTask, Vehicle.name, Vehicle.fleet_number).join(
            Vehicle, Vehicle.id == FieldTask.vehicle_id
        )
        if states is not None:
            query = query.where(FieldTask.state.in_(list(states)))
        if kind:
            query = query.where(FieldTask.kind == kind)
        if assignee:
            query = query.where(func.lower(FieldTask.assignee) == assignee.strip().lower())
        if vehicle_id is not None:
            query = query.where(FieldTask.vehicle_id == vehicle_id)
        with self._db.session() as s:
            out = [
                TaskRecord(
                    t.id,
                    t.vehicle_id,
                    name,
                    number,
                    t.kind,
                    t.state,
                    t.priority,
                    t.due_at,
                    t.assignee,
                    t.notes,
                    t.reason,
                    t.created_by,
                    t.created_at,
                    t.updated_at,
                    t.finished_at,
                )
                for t, name, number in s.execute(query)
            ]
        return sorted(out, key=sort_key)

    def assignees(self) -> list[str]:
        """Names tasks were given to before (the assignee field's suggestions)."""
        with self._db.session() as s:
            names = s.scalars(select(FieldTask.assignee).where(FieldTask.assignee != "").distinct())
            return sorted(set(names), key=str.lower)

    def open_kinds(self, vehicle_ids: Iterable[int] | None = None) -> dict[int, set[str]]:
        query = select(FieldTask.vehicle_id, FieldTask.kind).where(
            FieldTask.state.in_(OPEN_TASK_STATES)
        )
        if vehicle_ids is not None:
            query = query.where(FieldTask.vehicle_id.in_(list(vehicle_ids)))
        out: dict[int, set[str]] = {}
        with self._db.session() as s:
            for vehicle_id, kind in s.execute(query):
                out.setdefault(vehicle_id, set()).add(kind)
        return out

    def vehicles_with_open_tasks(self) -> set[int]:
        return set(self.open_kinds())

    def vehicles_outside_zone(self) -> set[int]:
        """Vehicles with an open ``outside_service_area`` alert (none before zones exist)."""
        with self._db.session() as s:
            return set(
                s.scalars(
                    select(Alert.vehicle_id).where(
                        Alert.kind == OUTSIDE_SERVICE_AREA, Alert.cleared_at.is_(None)
                    )
                )
            )

    def facts(self, vehicle_ids: Iterable[int] | None) -> list[TaskFacts]:
        """The task rules' input for ``vehicle_ids`` (None = every live vehicle)."""
        query = (
            select(Vehicle, VehicleState, MaintenancePlan)
            .outerjoin(VehicleState, VehicleState.vehicle_id == Vehicle.id)
            .outerjoin(MaintenancePlan, MaintenancePlan.vehicle_id == Vehicle.id)
            .where(Vehicle.archived_at.is_(None))
        )
        if vehicle_ids is not None:
            query = query.where(Vehicle.id.in_(list(vehicle_ids)))
        outside = self.vehicles_outside_zone()
        with self._db.session() as s:
            return [
                TaskFacts(
                    vehicle_id=v.id,
                    vehicle_kind=v.kind,
                    status=v.status,
                    battery_pct=st.battery_pct if st else None,
                    charging=st.charging if st else None,
                    last_heard_at=st.last_heard_at if st else None,
                    odometer_km=st.odometer_km if st else None,
                    oil_life_pct=st.oil_life_pct if st else None,
                    plan=_plan(p) if p is not None else None,
                    outside_service_area=v.id in outside,
                )
                for v, st, p in s.execute(query)
            ]

    # -- maintenance plans -----------------------------------------------------------------

    def plan(self, vehicle_id: int) -> Plan | None:
        with self._db.session() as s:
            row = s.get(MaintenancePlan, vehicle_id)
            return _plan(row) if row is not None else None

    def save_plan(self, plan: Plan, now: datetime) -> None:
        """Store the plan (an empty one removes it: the vehicle has no plan)."""
        with self._db.session() as s:
            row = s.get(MaintenancePlan, plan.vehicle_id)
            if plan.empty:
                if row is not None:
                    s.delete(row)
                return
            if row is None:
                row = MaintenancePlan(vehicle_id=plan.vehicle_id)
                s.add(row)
            row.every_km, row.every_months = plan.every_km, plan.every_months
            row.last_service_km, row.last_service_at = plan.last_service_km, plan.last_service_at
            row.oil_below_pct, row.updated_at = plan.oil_below_pct, now

    def latest_readings(self, vehicle_id: int) -> tuple[float | None, float | None]:
        """(odometer km, oil life %) from the latest stored reading."""
        with self._db.session() as s:
            st = s.get(VehicleState, vehicle_id)
            return (st.odometer_km, st.oil_life_pct) if st else (None, None)


def _plan(row: MaintenancePlan) -> Plan:
    return Plan(
        row.vehicle_id,
        row.every_km,
        row.every_months,
        row.last_service_km,
        row.last_service_at,
        row.oil_below_pct,
    )
