"""A shared-mode console's live updates: the change feed into the window.

The collector (and other consoles) NOTIFY after they commit; each change names a vehicle,
which goes to the window's :class:`~app.views.live_updates.LiveUpdates` coalescer (one
read of the changed rows per quarter second, however many notifications arrive). After
the listener had to reconnect, notifications may have been missed, so the whole fleet is
reloaded. The status bar says whether live updates are flowing.

A ``field_task`` notice (a task another console or the collector's rules wrote) fires the
task service's ``changes``, as a local write does, so the Tasks window, the quick-list
counts and the map's open-task filter re-read; a burst (a rule sweep) is one re-read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QTimer

from app.services.change_feed import Change, ChangeListener
from app.services.field_tasks.service import CHANGE_TABLE as TASKS_TABLE
from app.services.tasks import TaskOwner
from app.services.wiring.context import AppContext

if TYPE_CHECKING:
    from app.views.live_updates import LiveUpdates

logger = logging.getLogger(__name__)

#: Task notices are collected this long before one re-read (as LiveUpdates does).
TASKS_COALESCE_MS = 250


class FeedWindow(Protocol):
    """What the feed uses of ``MainWindow``, which itself names ``ChangeFeedView``: a
    protocol here keeps the two modules free of an import cycle."""

    live_updates: LiveUpdates | None
    change_feed: ChangeFeedView | None

    def reload(self) -> None: ...

    def set_worker_health(self, text: str) -> None: ...


class ChangeFeedView:
    """Routes changes to the window; ``received`` counts them (tests, diagnostics)."""

    def __init__(self, window: FeedWindow, on_tasks: Callable[[], None] | None = None) -> None:
        self._window = window
        self.received = 0
        self._tasks_soon = QTimer()
        self._tasks_soon.setSingleShot(True)
        self._tasks_soon.setInterval(TASKS_COALESCE_MS)
        if on_tasks is not None:
            self._tasks_soon.timeout.connect(on_tasks)

    def on_change(self, change: Change) -> None:
        self.received += 1
        if change.table == TASKS_TABLE:
            self._tasks_changed()
            return
        live = self._window.live_updates
        if change.vehicle_id is None or live is None:
            self._window.reload()
            return
        live.vehicle_changed(change.vehicle_id)

    def on_resync(self) -> None:
        logger.info("change feed reconnected: reloading the fleet")
        self._window.reload()
        self._tasks_changed()

    def _tasks_changed(self) -> None:
        if not self._tasks_soon.isActive():  # not restarted: a steady stream still re-reads
            self._tasks_soon.start()

    def on_state(self, connected: bool) -> None:
        text = "Live updates: on" if connected else "Live updates: lost, reconnecting…"
        self._window.set_worker_health(text)


def start_change_feed(window: FeedWindow, context: AppContext, tasks: TaskOwner) -> ChangeListener:
    """Listen for the shared database's changes for as long as ``tasks`` runs."""
    tasks_changed = None if context.tasks is None else context.tasks.changes.notify
    view = ChangeFeedView(window, tasks_changed)
    listener = context.change_listener(
        view.on_change, on_resync=view.on_resync, on_state=view.on_state
    )
    window.change_feed = view
    tasks.spawn(listener.run, "change-feed-listener", restart=True)
    return listener
