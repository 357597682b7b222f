"""The field task's state machine, as data plus one checking function.

open -> assigned -> in progress -> done, with cancelled reachable from every state that is
not finished. A task may also start straight from open (whoever picks it up works on it)
and go back from assigned to open (the assignee handed it back). done and cancelled are
final: a finished task is history; new work is a new task.
"""

from __future__ import annotations

import enum


class TaskState(enum.StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskKind(enum.StrEnum):
    BATTERY_SWAP = "battery_swap"
    REBALANCE = "rebalance"
    INSPECTION = "inspection"
    REPAIR = "repair"
    COLLECT = "collect"


class TaskPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


S = TaskState
FINISHED = frozenset({S.DONE, S.CANCELLED})
#: States in which a task still needs someone (the database's one-open-task index agrees).
OPEN_STATES = frozenset(S) - FINISHED

TRANSITIONS: dict[S, frozenset[S]] = {
    S.OPEN: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.OPEN, S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.DONE, S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
}

LABELS: dict[S, str] = {
    S.OPEN: "Open",
    S.ASSIGNED: "Assigned",
    S.IN_PROGRESS: "In progress",
    S.DONE: "Done",
    S.CANCELLED: "Cancelled",
}
KIND_LABELS: dict[TaskKind, str] = {
    TaskKind.BATTERY_SWAP: "Battery swap",
    TaskKind.REBALANCE: "Rebalance",
    TaskKind.INSPECTION: "Inspection",
    TaskKind.REPAIR: "Repair",
    TaskKind.COLLECT: "Collect",
}
#: Most urgent first: the Tasks window's sort key.
PRIORITY_RANK = {
    TaskPriority.URGENT: 0,
    TaskPriority.HIGH: 1,
    TaskPriority.NORMAL: 2,
    TaskPriority.LOW: 3,
}


class IllegalTaskTransition(ValueError):
    """A task was asked to move to a state its current state cannot reach."""


def parse_state(value: str) -> S:
    try:
        return S(value)
    except ValueError:
        raise IllegalTaskTransition(f"unknown task state {value!r}") from None


def check_transition(current: S | str, target: S | str, *, assignee: str = "") -> S:
    """``target`` as a TaskState if ``current -> target`` is allowed, else
    IllegalTaskTransition with the reason in the operator's words. Assigning needs an
    assignee: "assigned" to nobody would hide the task from the open list for nothing."""
    here, there = parse_state(str(current)), parse_state(str(target))
    if here in FINISHED:
        raise IllegalTaskTransition(
            f"the task is {LABELS[here].lower()}; it cannot change any more"
        )
    if there not in TRANSITIONS[here]:
        raise IllegalTaskTransition(f"a task cannot go from {LABELS[here]} to {LABELS[there]}")
    if there is S.ASSIGNED and not assignee.strip():
        raise IllegalTaskTransition("name the assignee before assigning the task")
    return there


def next_states(current: S | str) -> list[S]:
    """Where a task in ``current`` may go, in the order the Tasks window shows buttons."""
    allowed = TRANSITIONS[parse_state(str(current))]
    return [s for s in S if s in allowed]
