"""Field tasks: the Tasks window's reads and writes, and the rules that create tasks.

The rules run where the alert rules run (wherever telemetry is stored: a standalone
console, the collector of a shared database): ``vehicles_changed`` is a telemetry writer
observer (sync, cheap: it queues ids), ``run`` (spawn once) evaluates the queued vehicles
as they come and sweeps the whole fleet every ``[tasks] sweep_interval_s`` for what
happens without new data (silence, a service date reached). ``changes`` hear ``()`` after
any task changed (the Tasks window, the fleet list's counts).

On a shared database every task write (a console's, or the collector's rules') NOTIFYs
``Change("field_task", vehicle_id)`` in its own transaction, so the other consoles hear it
on their change feed (app/views/shared_feed.py) and fire their ``changes`` too.

Every blocking call goes through ``Database.run``; a task is moved by the state machine
(states.check_transition), inside the transaction that writes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from app.config import Settings
from app.listeners import Listeners
from app.models.database import Database
from app.models.field_tasks import (
    DuplicateOpenTask,
    NewTask,
    Plan,
    TaskRecord,
    TaskRepository,
)
from app.services.change_feed import Change, notify_in
from app.services.field_tasks import rules
from app.services.field_tasks.maintenance import MaintenanceDue, assess
from app.services.field_tasks.states import FINISHED, TaskState, check_transition
from app.services.people import PeopleService
from app.services.telemetry.exports import export_tasks
from app.services.waking import VehicleQueue

logger = logging.getLogger(__name__)

RULE_AUTHOR = "rules"
"""``created_by`` of a rule's task on SQLite (PostgreSQL writes the collector's login)."""
CHANGE_TABLE = "field_task"
"""The change-feed notice of a task written (by a console or the collector's rules)."""


def _announce(session: Session, vehicle_id: int) -> None:
    notify_in(session, Change(CHANGE_TABLE, vehicle_id))


class TaskService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        who: str,
        people: PeopleService | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``who`` is written as the creator of tasks made by hand on SQLite."""
        self._db = database
        self._settings = settings
        self._who = who
        self._people = people
        self._clock = clock
        self.repository = TaskRepository(database, announce=_announce)
        self.changes: Listeners[[]] = Listeners("field tasks")
        self._watched_since = clock()
        self._queue = VehicleQueue()
        self._lock = asyncio.Lock()

    # -- the Tasks window ------------------------------------------------------------------

    async def create(self, task: NewTask) -> int:
        """A task made by hand; DuplicateOpenTask if that kind is open for the vehicle."""
        task_id = await self._db.run(self.repository.create, task, self._who, self._clock())
        self.changes.notify()
        return task_id

    async def edit(
        self, task_id: int, *, priority: str, due_at: datetime | None, assignee: str, notes: str
    ) -> None:
        await self._db.run(
            lambda: self.repository.edit(
                task_id,
                priority=priority,
                due_at=due_at,
                assignee=assignee,
                notes=notes,
                now=self._clock(),
            )
        )
        self.changes.notify()

    async def move(self, task_id: int, target: TaskState | str) -> TaskState:
        """Move a task along the state machine; IllegalTaskTransition says why not."""

        def check(current: str, assignee: str) -> str:
            return check_transition(current, target, assignee=assignee).value

        finished = [s.value for s in FINISHED]
        state = await self._db.run(self.repository.move, task_id, check, self._clock(), finished)
        self.changes.notify()
        return TaskState(state)

    async def tasks(
        self,
        *,
        states: Iterable[str] | None = None,
        kind: str | None = None,
        assignee: str | None = None,
        vehicle_id: int | None = None,
    ) -> list[TaskRecord]:
        wanted_states = None if states is None else list(states)
        return await self._db.run(
            lambda: self.repository.tasks(
                states=wanted_states, kind=kind, assignee=assignee, vehicle_id=vehicle_id
            )
        )

    async def assignee_suggestions(self) -> list[str]:
        """Names given before, and (shared mode) the logins of the people who may sign in."""
        names = set(await self._db.run(self.repository.assignees))
        if self._people is not None and self._people.available:
            try:
                names.update(p.login for p in await self._people.list() if p.can_sign_in)
            except Exception:  # a viewer may not read the people list: names given before
                logger.info("people list not readable; suggesting earlier assignees only")
        return sorted(names, key=str.lower)

    async def export_csv(self, path: Path, tasks: list[TaskRecord]) -> int:
        """Write ``tasks`` (as the window lists them) to ``path``; the number of rows."""
        return await self._db.run(export_tasks, self._db, path, tasks)

    # -- the fleet list's quick lists ------------------------------------------------------

    async def quick_lists(self) -> tuple[set[int], set[int]]:
        """(vehicles with open tasks, vehicles outside the service area), in one trip to
        the database thread."""
        repo = self.repository
        return await self._db.run(
            lambda: (repo.vehicles_with_open_tasks(), repo.vehicles_outside_zone())
        )

    # -- maintenance -----------------------------------------------------------------------

    async def plan(self, vehicle_id: int) -> Plan | None:
        return await self._db.run(self.repository.plan, vehicle_id)

    async def save_plan(self, plan: Plan) -> None:
        """Store the plan and re-check the vehicle at once (a plan already due makes its
        task now, not at the next sweep)."""
        await self._db.run(self.repository.save_plan, plan, self._clock())
        self.vehicles_changed((plan.vehicle_id,))
        self.changes.notify()

    async def maintenance(self, vehicle_id: int) -> MaintenanceDue | None:
        """The detail panel's maintenance line (None: no plan, or nothing to count from);
        one trip to the database thread (the panel reads it on every refresh)."""
        repo = self.repository
        plan, (odometer, oil) = await self._db.run(
            lambda: (repo.plan(vehicle_id), repo.latest_readings(vehicle_id))
        )
        return None if plan is None else assess(plan, odometer, oil, self._clock())

    # -- the rules -------------------------------------------------------------------------

    def vehicles_changed(self, vehicle_ids: Iterable[int]) -> None:
        """Telemetry writer observer: evaluate these vehicles soon."""
        self._queue.add(vehicle_ids)

    async def evaluate(self, vehicle_ids: Iterable[int] | None = None) -> list[int]:
        """Create the tasks the rules ask for ``vehicle_ids`` (None = the whole fleet);
        the new tasks' ids."""
        if not self._settings.tasks.rules_enabled:
            return []
        ids = None if vehicle_ids is None else sorted(set(vehicle_ids))
        created: list[int] = []
        async with self._lock:
            now = self._clock()
            facts = await self._db.run(self.repository.facts, ids)
            open_kinds = await self._db.run(self.repository.open_kinds, ids)
            for f in facts:
                for w in rules.wanted(
                    f,
                    now,
                    self._settings.tasks,
                    open_kinds.get(f.vehicle_id, ()),
                    self._watched_since,
                ):
                    task = NewTask(w.vehicle_id, w.kind.value, w.priority.value, reason=w.reason)
                    try:
                        created.append(
                            await self._db.run(self.repository.create, task, RULE_AUTHOR, now)
                        )
                    except DuplicateOpenTask:
                        continue  # another workstation's rules (or a person) got there first
        if created:
            logger.info("task rules created %d task(s)", len(created))
            self.changes.notify()
        return created

    async def run(self) -> None:
        """Evaluate changed vehicles as they come; sweep everything periodically."""
        await self._queue.run(
            self.evaluate, self._settings.tasks.sweep_interval_s, "task rule evaluation"
        )
