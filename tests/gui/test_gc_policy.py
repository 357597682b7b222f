"""The console's collection policy: the start-up heap is frozen once, later garbage is not."""

from __future__ import annotations

import gc
import weakref

import pytest

from app.views.gc_policy import GuiGarbageCollection, due_generation

pytestmark = pytest.mark.gui


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_heap_is_frozen_once_and_later_cycles_are_still_collected(qapp) -> None:
    policy = GuiGarbageCollection()
    try:
        assert gc.get_freeze_count() == 0
        policy.freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 1000 and policy.frozen == frozen  # modules, Qt wrappers, ...
        later = _Cycle()
        policy.freeze_startup_heap()  # a second fleet load freezes nothing more
        assert gc.get_freeze_count() == frozen
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # a cycle made after start-up is collected as before
    finally:
        policy.stop()
        gc.unfreeze()


@pytest.mark.parametrize(
    ("counts", "grown", "due"),
    [
        ((100, 11, 11), True, None),  # too few new objects: nothing
        ((701, 3, 11), True, 0),
        ((701, 11, 3), True, 1),
        ((701, 11, 11), False, 1),  # the oldest generation barely grew: no full collection
        ((701, 11, 11), True, 2),
    ],
)
def test_the_generation_due_is_cpythons_choice(counts, grown, due) -> None:
    assert due_generation(counts, (700, 10, 10), lambda: grown) == due


def _counts_for_a_full_collection(threshold: tuple[int, int, int]) -> list[list]:
    """gc.get_count() past every threshold (what made pyqtgraph's timer collect it all);
    returns the new objects that count for the youngest generation (keep them alive)."""
    for _ in range(threshold[2] + 1):
        gc.collect(1)  # each one counts for the oldest generation
    for _ in range(threshold[1] + 1):
        gc.collect(0)  # each one counts for the middle generation
    return [[] for _ in range(threshold[0] * 2)]


def test_a_full_collection_waits_until_the_oldest_generation_grew_by_a_quarter(qapp) -> None:
    policy = GuiGarbageCollection(interval_s=3600)  # ticked by hand here
    try:
        threshold = gc.get_threshold()
        fresh = _counts_for_a_full_collection(threshold)
        assert policy.check() == 1  # the heap did not grow: the younger ones only

        del fresh  # (its lists' deallocation would count against the next ones)
        kept = [[] for _ in range(len(gc.get_objects(generation=2)) // 3)]
        gc.collect(1)  # survivors move to the oldest generation
        fresh = _counts_for_a_full_collection(threshold)
        assert policy.check() == 2
        del kept, fresh
    finally:
        policy.stop()
        gc.enable()
