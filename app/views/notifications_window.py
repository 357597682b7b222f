"""The Notifications window (Operations → Notifications, Ctrl+Shift+N): every notification
recorded, newest first, with its state, attempts and last error; each channel's state;
and "Send test e-mail", which goes through the same record-then-send path as an alert."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from qasync import asyncSlot

from app.services.notifications.dispatcher import NotificationDispatcher, NotificationUnavailable
from app.views.lifetime import gone
from app.views.notification_status import channel_line
from app.views.ops_tables import fill, make_table
from app.views.rental_views import _when

HEADERS = ["When", "Channel", "Recipient", "Subject", "State", "Attempts", "Last error", "Retry at"]
#: Changes come in bursts (one per send); the list is read again once they settle.
RELOAD_AFTER_MS = 300


class NotificationsWindow(QWidget):
    def __init__(
        self,
        dispatcher: NotificationDispatcher,
        *,
        refusal: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``refusal``: why this sign-in may not send a test e-mail (None: it may)."""
        super().__init__(parent)
        self.setObjectName("notificationsWindow")
        self.setWindowTitle("Notifications")
        self._dispatcher = dispatcher
        self._refusal = refusal
        self.channels = QLabel("")
        self.channels.setObjectName("notificationChannels")
        self.test_button = QPushButton("Send test e-mail")
        self.test_button.setObjectName("sendTestEmail")
        self.test_button.clicked.connect(lambda: self.send_test())
        self.message = QLabel("")
        self.message.setObjectName("notificationMessage")
        self.table = make_table(HEADERS, "notificationTable")
        bar = QHBoxLayout()
        for w in (self.channels, self.test_button, self.message):
            bar.addWidget(w)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.setInterval(RELOAD_AFTER_MS)
        self._later.timeout.connect(lambda: self.reload())
        unsubscribe = dispatcher.changes.subscribe(self._later.start)
        self.destroyed.connect(lambda _obj=None: unsubscribe())
        self._show_channels()

    def _show_channels(self) -> None:
        states = self._dispatcher.channel_states()
        email = next((s for s in states if s.name == "email"), None)
        lines = [channel_line(s) for s in states]
        if email is None:  # say so: a silent absence reads as "e-mail works"
            lines.insert(0, f"E-mail: {self._dispatcher.email_off}")
        self.channels.setText("\n".join(lines))
        why = self._refusal
        if why is None and email is None:
            why = f"E-mail: {self._dispatcher.email_off}"  # off, or the collector's
        elif why is None and email is not None and email.unavailable:
            why = f"E-mail cannot be sent: {email.unavailable}"
        self.test_button.setEnabled(why is None)
        self.test_button.setToolTip(why or "Send a test e-mail to every recipient")

    @asyncSlot()
    async def reload(self) -> None:
        rows = await self._dispatcher.recent()
        if gone(self):
            return
        fill(
            self.table,
            [
                (
                    r.id,
                    [
                        _when(r.created_at),
                        r.channel,
                        r.recipient,
                        r.subject,
                        r.state,
                        r.attempts,
                        r.last_error,
                        _when(r.next_attempt_at) if r.state == "failed" else "",
                    ],
                )
                for r in rows
            ],
        )
        self._show_channels()

    @asyncSlot()
    async def send_test(self) -> None:
        if not self.test_button.isEnabled():
            return
        try:
            records = await self._dispatcher.send_test_email()
        except NotificationUnavailable as exc:
            text = str(exc)
        else:
            recipients = ", ".join(r.recipient for r in records)
            text = f"Test e-mail queued to {recipients}: the list shows when it is sent"
        if not gone(self):
            self.message.setText(text)
            self.reload()
