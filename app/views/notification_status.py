"""The status-bar warning that notifications are not getting out (SMTP down, login refused).

Hidden while every channel sends (or has nothing to send). When a send fails the operator
sees which channel, the last error and how many notifications wait for a retry; nothing is
lost meanwhile (each is recorded before it is tried). A channel that cannot work at all
here (no system tray) is not an error: the tooltip and the Notifications window say so.
Pushed to by the dispatcher's ``changes``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QWidget

from app.services.notifications.dispatcher import ChannelState, NotificationDispatcher

ERROR_STYLE = "color: #c62828; font-weight: bold"


def describe(states: Sequence[ChannelState]) -> str:
    """'Notifications: E-mail failing: cannot connect ... · 3 waiting' ('' when fine)."""
    failing = [s for s in states if s.problem]
    if not failing:
        return ""
    first = failing[0]
    text = f"Notifications: {first.label} failing: {first.problem}"
    if first.waiting:
        text += f" · {first.waiting:,} waiting"
    if len(failing) > 1:
        text += f" (+{len(failing) - 1} more failing)"
    return text


def channel_line(state: ChannelState) -> str:
    """One channel for tooltips and the Notifications window."""
    if state.unavailable:
        return f"{state.label}: unavailable, {state.unavailable}"
    how = f"failing, {state.problem}" if state.problem else "working"
    return f"{state.label}: {how} · {state.waiting:,} waiting"


class NotificationStatusLabel(QLabel):
    """A permanent status-bar label, visible only while a channel's sends fail."""

    def __init__(
        self, dispatcher: NotificationDispatcher | None, parent: QWidget | None = None
    ) -> None:
        """``dispatcher`` None: this console sends none (shared database, review)."""
        super().__init__(parent)
        self.setObjectName("notificationStatus")
        self.setStyleSheet(ERROR_STYLE)
        self._dispatcher = dispatcher
        self.hide()
        if dispatcher is not None:
            unsubscribe = dispatcher.changes.subscribe(self.refresh)
            self.destroyed.connect(lambda _obj=None: unsubscribe())

    def refresh(self) -> None:
        states = self._dispatcher.channel_states() if self._dispatcher is not None else []
        text = describe(states)
        self.setText(text)
        self.setToolTip("\n".join(channel_line(s) for s in states) if text else "")
        self.setVisible(bool(text))
