"""When the console's Python garbage collector runs, and over which objects.

Three rules, all about the GUI thread:

- Cycles are collected only on the GUI thread, on a timer (the automatic collector is
  disabled): collected elsewhere (the database thread, say), a Qt wrapper's destructor can
  crash the whole console.
- The heap that exists once the console is up (imported modules, Qt wrappers, the first
  fleet load: some 275,000 objects) is frozen out of later collections (``gc.freeze``).
  A full collection walking it took about 100 ms on the GUI thread: a stall a dispatcher
  sees every few seconds under device load (``bench_ui_stall_iot``). What is frozen is
  never collected, so this is done once, after start-up, not for later garbage.
- Which generation the timer collects follows CPython's own collector, including its rule
  against needless full collections: the oldest generation is collected only once the
  objects that reached it since the last full collection are a quarter of those it then
  held. pyqtgraph's timer-driven collector (which we used before) skips that rule: it ran a
  full collection every ten younger ones, about every two minutes while devices report,
  each walking the whole heap that is not frozen (31 ms on the GUI thread after
  ``bench_ui_stall_iot``'s load), though the heap was not growing.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer

logger = logging.getLogger(__name__)

#: CPython's share of growth of the oldest generation that makes a full collection due.
FULL_COLLECTION_GROWTH = 0.25


def due_generation(
    counts: tuple[int, int, int], thresholds: tuple[int, int, int], grown: Callable[[], bool]
) -> int | None:
    """The generation to collect now (None: none), as CPython's collector would choose it:
    the oldest whose count passed its threshold, the oldest of all only if ``grown()``."""
    if counts[0] <= thresholds[0]:
        return None
    if counts[1] <= thresholds[1]:
        return 0
    if counts[2] <= thresholds[2] or not grown():
        return 1
    return 2


class GuiGarbageCollection:
    """Owns the GUI-thread collector; ``freeze_startup_heap`` once the window is loaded."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._after_full = self._oldest_size()
        self.frozen = 0
        self._timer = QTimer()
        self._timer.timeout.connect(self.check)
        self._timer.start(int(interval_s * 1000))

    @staticmethod
    def _oldest_size() -> int:
        return len(gc.get_objects(generation=2))

    def _grown(self) -> bool:
        return self._oldest_size() - self._after_full > self._after_full * FULL_COLLECTION_GROWTH

    def check(self) -> int | None:
        """Collect what is due (the timer's tick); returns the generation collected."""
        counts = gc.get_count()
        generation = due_generation(counts, self._thresholds, self._grown)
        if generation is not None:
            gc.collect(generation)
            if generation == 2:
                self._after_full = self._oldest_size()
        return generation

    def freeze_startup_heap(self) -> None:
        """Collect once, then park every survivor outside later collections (first call only)."""
        if self.frozen:
            return
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        self._after_full = self._oldest_size()
        logger.info("start-up heap frozen out of garbage collection: %d objects", self.frozen)

    def stop(self) -> None:
        self._timer.stop()
