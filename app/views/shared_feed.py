"""A shared-mode console's live updates: the change feed into the window.

The collector (and other consoles) NOTIFY after they commit; each change names a vehicle,
which goes to the window's :class:`~app.views.live_updates.LiveUpdates` coalescer (one
read of the changed rows per quarter second, however many notifications arrive). After
the listener had to reconnect, notifications may have been missed, so the whole fleet is
reloaded. The status bar says whether live updates are flowing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from app.services.change_feed import Change, ChangeListener
from app.services.tasks import TaskOwner
from app.services.wiring.context import AppContext

if TYPE_CHECKING:
    from app.views.live_updates import LiveUpdates

logger = logging.getLogger(__name__)


class FeedWindow(Protocol):
    """What the feed uses of ``MainWindow``, which itself names ``ChangeFeedView``: a
    protocol here keeps the two modules free of an import cycle."""

    live_updates: LiveUpdates | None
    change_feed: ChangeFeedView | None

    def reload(self) -> None: ...

    def set_worker_health(self, text: str) -> None: ...


class ChangeFeedView:
    """Routes changes to the window; ``received`` counts them (tests, diagnostics)."""

    def __init__(self, window: FeedWindow) -> None:
        self._window = window
        self.received = 0

    def on_change(self, change: Change) -> None:
        self.received += 1
        live = self._window.live_updates
        if change.vehicle_id is None or live is None:
            self._window.reload()
            return
        live.vehicle_changed(change.vehicle_id)

    def on_resync(self) -> None:
        logger.info("change feed reconnected: reloading the fleet")
        self._window.reload()

    def on_state(self, connected: bool) -> None:
        text = "Live updates: on" if connected else "Live updates: lost, reconnecting…"
        self._window.set_worker_health(text)


def start_change_feed(window: FeedWindow, context: AppContext, tasks: TaskOwner) -> ChangeListener:
    """Listen for the shared database's changes for as long as ``tasks`` runs."""
    view = ChangeFeedView(window)
    listener = context.change_listener(
        view.on_change, on_resync=view.on_resync, on_state=view.on_state
    )
    window.change_feed = view
    tasks.spawn(listener.run, "change-feed-listener", restart=True)
    return listener
