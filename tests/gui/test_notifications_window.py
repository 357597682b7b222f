"""Operations → Notifications: the recorded notifications with state, attempts and error;
the status bar while e-mail fails; a test e-mail through a real SMTP server process."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from PySide6.QtCore import Qt

from app.config import (
    DemoSettings,
    EmailSettings,
    NotificationSettings,
    Settings,
    SmartcarSettings,
)
from app.services.notifications.dispatcher import NotificationDispatcher
from app.views.notifications_window import NotificationsWindow
from tests.helpers.smtp_server import SmtpServer, free_port
from tests.helpers.waiting import until

PORT = free_port()


@pytest.fixture
def settings():
    email = EmailSettings(
        enabled=True,
        host="127.0.0.1",
        port=PORT,
        security="none",
        recipients=("ops@fleet.test",),
        timeout_s=5,
    )
    return Settings(
        demo=DemoSettings(cars=4, micromobility=2),
        smartcar=SmartcarSettings(api_version="2.0"),
        notifications=NotificationSettings(email=email, retry_first_s=0.3),
    )


def cells(table, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


@pytest.mark.expect_log("app.services.notifications.dispatcher", match="cannot connect")
async def test_the_window_lists_a_failing_test_email_and_the_status_bar_shows_it(
    window, qtbot, tmp_path
):
    dispatcher = window.context.notifications
    runner = asyncio.ensure_future(dispatcher.run())
    server = SmtpServer(PORT, tmp_path / "mail")
    try:
        action = window.operations.actions["notifications"]
        assert action.shortcut().toString() == "Ctrl+Shift+N" and action.isEnabled()
        action.trigger()
        view = window.operations._views["notifications"]
        assert isinstance(view, NotificationsWindow) and view.isVisible()
        # Offscreen there is no system tray: the desktop channel says so, nothing crashes.
        assert "Desktop: unavailable, no system tray on this desktop" in view.channels.text()
        assert "E-mail: working · 0 waiting" in view.channels.text()
        assert view.test_button.isEnabled()
        qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
        await until(lambda: view.message.text().startswith("Test e-mail queued to ops@"))
        await until(
            lambda: view.table.rowCount() == 1 and cells(view.table, 0)[4] == "failed",
            what="the failed row listed",
        )
        row = cells(view.table, 0)
        assert row[1:4] == ["email", "ops@fleet.test", "[Fleet Console] Test e-mail"]
        assert int(row[5]) >= 1  # retried meanwhile, every 0.3 s doubling
        assert row[6] == f"cannot connect to SMTP server 127.0.0.1:{PORT}: Connection refused"
        status = window.notification_status
        await until(lambda: status.isVisible(), what="the status bar warning")
        assert status.text().startswith("Notifications: E-mail failing: cannot connect")
        assert "E-mail: failing" in view.channels.text()
        server.start()  # the server comes back: the retry gets through
        await until(lambda: len(server.messages()) == 1, what="the test e-mail received")
        await until(lambda: cells(view.table, 0)[4] == "sent", what="the row sent")
        await until(lambda: not status.isVisible(), what="the warning gone")
        [(rcpt, message)] = server.messages()
        assert rcpt == ["ops@fleet.test"] and "test e-mail" in message.get_content()
    finally:
        server.stop()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_demo_defaults_and_a_viewer_cannot_send_a_test_email(qtbot, db):
    # Demo mode's defaults: e-mail off (no server configured); the button says why.
    off = NotificationsWindow(NotificationDispatcher(db, NotificationSettings()))
    qtbot.addWidget(off)
    assert off.channels.text() == "E-mail: off ([notifications.email] enabled = false)"
    assert not off.test_button.isEnabled()
    assert off.test_button.toolTip() == "E-mail: off ([notifications.email] enabled = false)"
    email = EmailSettings(enabled=True, host="127.0.0.1", port=PORT, recipients=("a@x.test",))
    dispatcher = NotificationDispatcher(db, NotificationSettings(email=email))
    viewer = NotificationsWindow(dispatcher, refusal="bob is signed in as Viewer: ...")
    qtbot.addWidget(viewer)
    assert not viewer.test_button.isEnabled()
    assert viewer.test_button.toolTip().startswith("bob is signed in as Viewer")
