"""The rental session state machine (product.md 3.1), as data plus one checking function.

Happy path: check-in started -> pre-condition documented (start readings taken) -> vehicle
unlocked -> rental active -> check-out started -> vehicle locked -> billing complete ->
completed. Side exits: check-in expired (check-in not finished before its deadline) and
cancelled (only before the rental became active). A blocked check-out (open door, lock
failed) goes back from check-out started to rental active, so the rental is never stuck
half-closed.
"""

from __future__ import annotations

from datetime import datetime

from app.models.enums import TERMINAL_RENTAL_STATES
from app.models.enums import RentalState as S

PRE_ACTIVE = frozenset({S.CHECK_IN_STARTED, S.PRE_CONDITION_DOCUMENTED, S.VEHICLE_UNLOCKED})
TERMINAL = TERMINAL_RENTAL_STATES
#: States in which the vehicle belongs to the rental (no second rental may start).
OPEN = frozenset(S) - TERMINAL

TRANSITIONS: dict[S, frozenset[S]] = {
    S.CHECK_IN_STARTED: frozenset({S.PRE_CONDITION_DOCUMENTED, S.CHECK_IN_EXPIRED, S.CANCELLED}),
    S.PRE_CONDITION_DOCUMENTED: frozenset({S.VEHICLE_UNLOCKED, S.CHECK_IN_EXPIRED, S.CANCELLED}),
    S.VEHICLE_UNLOCKED: frozenset({S.RENTAL_ACTIVE, S.CHECK_IN_EXPIRED, S.CANCELLED}),
    S.RENTAL_ACTIVE: frozenset({S.CHECK_OUT_STARTED}),
    S.CHECK_OUT_STARTED: frozenset({S.VEHICLE_LOCKED, S.RENTAL_ACTIVE}),
    S.VEHICLE_LOCKED: frozenset({S.BILLING_COMPLETE}),
    S.BILLING_COMPLETE: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CHECK_IN_EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}

LABELS: dict[S, str] = {
    S.CHECK_IN_STARTED: "Check-in started",
    S.PRE_CONDITION_DOCUMENTED: "Pre-condition documented",
    S.VEHICLE_UNLOCKED: "Vehicle unlocked",
    S.RENTAL_ACTIVE: "Rental active",
    S.CHECK_OUT_STARTED: "Check-out started",
    S.VEHICLE_LOCKED: "Vehicle locked",
    S.BILLING_COMPLETE: "Billing complete",
    S.COMPLETED: "Completed",
    S.CHECK_IN_EXPIRED: "Check-in expired",
    S.CANCELLED: "Cancelled",
}


class IllegalTransition(ValueError):
    """A rental was asked to move to a state its current state cannot reach."""


def parse_state(value: str) -> S:
    try:
        return S(value)
    except ValueError:
        raise IllegalTransition(f"unknown rental state {value!r}") from None


def check_transition(current: S | str, target: S | str) -> S:
    """``target`` as a RentalState if ``current -> target`` is allowed, else IllegalTransition."""
    here, there = parse_state(str(current)), parse_state(str(target))
    if there not in TRANSITIONS[here]:
        if there is S.CANCELLED:
            raise IllegalTransition(
                f"a rental can only be cancelled before it is active (it is {LABELS[here]})"
            )
        raise IllegalTransition(f"a rental cannot go from {LABELS[here]} to {LABELS[there]}")
    return there


def is_expired(state: S | str, deadline: datetime | None, now: datetime) -> bool:
    """True when check-in has not finished by its deadline (only pre-active states expire)."""
    return parse_state(str(state)) in PRE_ACTIVE and deadline is not None and now >= deadline
