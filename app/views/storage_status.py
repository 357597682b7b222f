"""The status-bar warning that telemetry is not reaching the database (disk full, ...).

Hidden while writes succeed. When they fail, the operator sees what is wrong and that
nothing is lost yet: how many readings wait in memory and how often the writer retries
(devices are not acknowledged meanwhile, so they keep theirs too). It reads the writer's
Qt-free ``health`` every second, because the waiting count moves all the time.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.services.telemetry.writer import StorageHealth, TelemetryWriter

REFRESH_MS = 1_000
ERROR_STYLE = "color: #c62828; font-weight: bold"


def describe(health: StorageHealth | None) -> str:
    """'Storage: disk full · 1,234 readings waiting, retrying every 8 s' ('' when fine)."""
    if health is None or health.ok:
        return ""
    text = f"Storage: {health.problem} · {health.pending:,} waiting"
    if health.retry_in_s is not None:
        text += f", retrying every {health.retry_in_s:.0f} s"
    if health.dropped:
        text += f" · {health.dropped:,} dropped (backlog full)"
    return text


class StorageStatusLabel(QLabel):
    """A permanent status-bar label, visible only while telemetry cannot be stored."""

    def __init__(self, writer: TelemetryWriter | None, parent: QWidget | None = None) -> None:
        """``writer`` None: this console stores no telemetry (shared database, review)."""
        super().__init__(parent)
        self.setObjectName("storageStatusLabel")
        self.setStyleSheet(ERROR_STYLE)
        self._writer = writer
        self.hide()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def refresh(self) -> None:
        writer = self._writer
        text = describe(writer.health if writer is not None else None)
        self.setToolTip(
            "Telemetry is kept in memory and written as soon as the database takes it again; "
            "devices are acknowledged only after that."
            if text
            else ""
        )
        self.setText(text)
        self.setVisible(bool(text))
