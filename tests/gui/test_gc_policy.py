"""The console's collection policy: the start-up heap is frozen once, later garbage is not."""

from __future__ import annotations

import gc
import weakref

import pytest

from app.views.gc_policy import GuiGarbageCollection

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
