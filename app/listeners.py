"""The one way a service tells others that something changed: ``Listeners``.

Every service that announces changes (the telemetry writer's commits, a connection made,
an alert raised, a rental started, a frame received) holds one ``Listeners`` per kind of
change. ``subscribe`` returns the matching unsubscribe, so a window that closes takes its
callback back without knowing how it is stored; ``notify`` calls every callback, and a
callback that raises is logged with its traceback and never stops the ones after it (a
broken view must not keep the alert rules from hearing about new telemetry).

Plain Python, no Qt: the models, integrations and services all use it, and the views
subscribe to it like anyone else (they hop onto the GUI thread themselves if needed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")

logger = logging.getLogger(__name__)


class Listeners(Generic[P]):
    """Callbacks for one kind of change, e.g. ``Listeners[[int]]`` for a vehicle id."""

    def __init__(self, what: str) -> None:
        self._what = what  # named in the log when a callback fails
        self._callbacks: list[Callable[P, object]] = []

    def subscribe(self, callback: Callable[P, object]) -> Callable[[], None]:
        """Call ``callback`` on every change from now on; returns its unsubscribe, which
        may be called more than once."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every callback (a copy of the list: one may unsubscribe while called)."""
        if not self._callbacks:
            return  # the usual case for the frame log, told of every frame the gateway stores
        for callback in list(self._callbacks):
            try:
                callback(*args, **kwargs)
            except Exception:
                logger.exception("a listener of %s failed", self._what)

    def __len__(self) -> int:
        return len(self._callbacks)
