import pytest

from app.models.field_tasks import OPEN_TASK_STATES
from app.models.orm import OPEN_TASK_SQL
from app.services.field_tasks.states import (
    OPEN_STATES,
    IllegalTaskTransition,
    TaskState,
    check_transition,
    next_states,
)

S = TaskState


def test_the_happy_path_and_the_side_exits():
    assert check_transition(S.OPEN, S.ASSIGNED, assignee="kim") is S.ASSIGNED
    assert check_transition(S.ASSIGNED, S.IN_PROGRESS) is S.IN_PROGRESS
    assert check_transition(S.IN_PROGRESS, S.DONE) is S.DONE
    assert check_transition(S.OPEN, S.IN_PROGRESS) is S.IN_PROGRESS  # picked up at once
    assert check_transition(S.ASSIGNED, S.OPEN) is S.OPEN  # handed back
    for here in (S.OPEN, S.ASSIGNED, S.IN_PROGRESS):
        assert check_transition(here, S.CANCELLED) is S.CANCELLED


@pytest.mark.parametrize(
    ("here", "there", "reason"),
    [
        (S.OPEN, S.DONE, "cannot go from Open to Done"),
        (S.IN_PROGRESS, S.OPEN, "cannot go from In progress to Open"),
        (S.DONE, S.OPEN, "the task is done; it cannot change any more"),
        (S.CANCELLED, S.IN_PROGRESS, "the task is cancelled"),
        (S.OPEN, S.ASSIGNED, "name the assignee"),
        ("open", "closed", "unknown task state 'closed'"),
    ],
)
def test_illegal_transitions_are_refused_with_the_reason(here, there, reason):
    with pytest.raises(IllegalTaskTransition, match=reason):
        check_transition(here, there, assignee="  ")


def test_buttons_follow_the_machine():
    assert next_states(S.OPEN) == [S.ASSIGNED, S.IN_PROGRESS, S.CANCELLED]
    assert next_states(S.IN_PROGRESS) == [S.DONE, S.CANCELLED]
    assert next_states(S.DONE) == []


def test_the_database_index_and_the_machine_agree_on_open():
    assert set(OPEN_TASK_STATES) == {s.value for s in OPEN_STATES}
    assert all(f"'{s}'" in OPEN_TASK_SQL for s in OPEN_TASK_STATES)
