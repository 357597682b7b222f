import itertools
from datetime import UTC, datetime, timedelta

import pytest

from app.models.enums import RentalState as S
from app.services.rentals.states import (
    OPEN,
    PRE_ACTIVE,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    check_transition,
    is_expired,
)

HAPPY = [
    S.CHECK_IN_STARTED,
    S.PRE_CONDITION_DOCUMENTED,
    S.VEHICLE_UNLOCKED,
    S.RENTAL_ACTIVE,
    S.CHECK_OUT_STARTED,
    S.VEHICLE_LOCKED,
    S.BILLING_COMPLETE,
    S.COMPLETED,
]


def test_happy_path_is_legal():
    for here, there in itertools.pairwise(HAPPY):
        assert check_transition(here, there) is there


def test_every_state_has_rules_and_terminals_go_nowhere():
    assert set(TRANSITIONS) == set(S)
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
    assert OPEN.isdisjoint(TERMINAL)


@pytest.mark.parametrize("state", sorted(PRE_ACTIVE))
def test_cancel_and_expiry_only_before_active(state):
    assert check_transition(state, S.CANCELLED) is S.CANCELLED
    assert check_transition(state, S.CHECK_IN_EXPIRED) is S.CHECK_IN_EXPIRED


@pytest.mark.parametrize("state", [s for s in S if s not in PRE_ACTIVE])
def test_cancel_after_active_is_refused_with_a_reason(state):
    with pytest.raises(IllegalTransition, match="only be cancelled before it is active"):
        check_transition(state, S.CANCELLED)


def test_illegal_jumps_are_refused():
    with pytest.raises(IllegalTransition, match="cannot go from Check-in started to Rental active"):
        check_transition(S.CHECK_IN_STARTED, S.RENTAL_ACTIVE)
    with pytest.raises(IllegalTransition):
        check_transition(S.COMPLETED, S.RENTAL_ACTIVE)
    with pytest.raises(IllegalTransition, match="unknown rental state"):
        check_transition("bogus", S.COMPLETED)


def test_blocked_checkout_returns_to_active():
    assert check_transition(S.CHECK_OUT_STARTED, S.RENTAL_ACTIVE) is S.RENTAL_ACTIVE


def test_expiry_needs_deadline_passed_and_a_pre_active_state():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    deadline = now + timedelta(minutes=30)
    assert not is_expired(S.CHECK_IN_STARTED, deadline, now)
    assert is_expired(S.CHECK_IN_STARTED, deadline, deadline)
    assert is_expired(S.VEHICLE_UNLOCKED, deadline, deadline + timedelta(seconds=1))
    assert not is_expired(S.RENTAL_ACTIVE, deadline, deadline + timedelta(hours=1))
    assert not is_expired(S.CHECK_IN_STARTED, None, now)
