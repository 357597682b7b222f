"""When the console's Python garbage collector runs, and over which objects.

Both rules are about the GUI thread:

- Cycles are collected only on the GUI thread, on a timer (pyqtgraph's GarbageCollector
  disables the automatic collector): collected elsewhere (the database thread, say), a Qt
  wrapper's destructor can crash the whole console.
- The heap that exists once the console is up (imported modules, Qt wrappers, the first
  fleet load: some 275,000 objects) is frozen out of later collections (``gc.freeze``).
  A full collection walking it took about 100 ms on the GUI thread: a stall a dispatcher
  sees every few seconds under device load (``bench_ui_stall_iot``). What is frozen is
  never collected, so this is done once, after start-up, not for later garbage.
"""

from __future__ import annotations

import gc
import logging

from pyqtgraph.util.garbage_collector import GarbageCollector

logger = logging.getLogger(__name__)


class GuiGarbageCollection:
    """Owns the GUI-thread collector; ``freeze_startup_heap`` once the window is loaded."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self._collector = GarbageCollector(interval=interval_s)
        self.frozen = 0

    def freeze_startup_heap(self) -> None:
        """Collect once, then park every survivor outside later collections (first call only)."""
        if self.frozen:
            return
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        logger.info("start-up heap frozen out of garbage collection: %d objects", self.frozen)

    def stop(self) -> None:
        self._collector.timer.stop()
