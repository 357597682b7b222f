"""The desktop channel: alerts as tray messages on the workstation running the console.

Qt's own QSystemTrayIcon rather than the ``desktop-notifier`` package: it comes with
PySide6 (no new dependency, nothing more for the frozen bundle), runs on the GUI thread
the qasync loop already drives, and works on Windows, macOS and Linux desktops with a
tray. Where there is none (a bare X server, Xvfb, the offscreen platform of the tests)
the channel says so through ``unavailable`` and the dispatcher skips it: no crash, and
the Notifications window shows why nothing pops up. The icon is created on first use.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.resources import resource_path
from app.services.notifications.channels import SendFailed

SHOW_MS = 15_000


class TrayChannel:
    """Implements app.services.notifications.channels.Channel for the console's desktop."""

    name = "desktop"

    def __init__(self, owner: QWidget, recipient: str) -> None:
        """``owner`` (the main window) parents the tray icon, which goes with it;
        ``recipient`` names this workstation in the records (channels.workstation)."""
        self._owner = owner
        self._recipient = recipient
        self._icon: QSystemTrayIcon | None = None

    def unavailable(self) -> str | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return "no system tray on this desktop"
        if not QSystemTrayIcon.supportsMessages():
            return "this desktop's tray shows no messages"
        return None

    def recipients(self) -> tuple[str, ...]:
        return (self._recipient,)

    async def send(self, recipient: str, subject: str, body: str) -> None:
        reason = self.unavailable()
        if reason:
            raise SendFailed(reason)
        if self._icon is None:
            self._icon = QSystemTrayIcon(
                QIcon(str(resource_path("icons", "fleet-console.svg"))), self._owner
            )
            self._icon.setToolTip("Fleet Console")
            self._icon.show()
        title = subject.removeprefix("[Fleet Console] ")
        self._icon.showMessage(title, body, QSystemTrayIcon.MessageIcon.Warning, SHOW_MS)
