"""Export one vehicle's telemetry for a time range to CSV (Operations → Export Vehicle
Telemetry…). The file is written on the database thread: a year of samples must not
freeze the window."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.services.telemetry.reads import Exports
from app.views.ops_tables import ask_csv_path

logger = logging.getLogger(__name__)

#: Chooses where to save: (parent, suggested file name) -> path, or None when cancelled.
AskPath = Callable[[QWidget, str], Awaitable[Path | None]]


def _edit(value: datetime) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime.fromSecsSinceEpoch(int(value.timestamp())))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    return edit


def _utc(edit: QDateTimeEdit) -> datetime:
    """The edit's local date and time as an aware UTC datetime."""
    value = edit.dateTime().toPython()
    assert isinstance(value, datetime)  # QDateTime converts to datetime (stubs say object)
    return value.astimezone(UTC)


class TelemetryExportDialog(QDialog):
    """From/To (local time, default the last 7 days), then a CSV file chosen by ``ask_path``.

    ``exported`` holds the last export's row count (None before one finished)."""

    def __init__(
        self,
        exports: Exports,
        vehicle_id: int,
        vehicle_label: str,
        parent: QWidget | None = None,
        *,
        ask_path: AskPath = ask_csv_path,
        now: datetime | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("telemetryExportDialog")
        self.setWindowTitle(f"Export telemetry — {vehicle_label}")
        self._exports = exports
        self.vehicle_id = vehicle_id
        self._ask_path = ask_path
        self.exported: int | None = None
        until = now or datetime.now(UTC)
        self.since_edit = _edit(until - timedelta(days=7))
        self.until_edit = _edit(until)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        self.buttons.accepted.connect(lambda: self.export(None))
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("From", self.since_edit)
        form.addRow("To", self.until_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Telemetry samples of {vehicle_label}, as CSV."))
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.suggested_name = f"telemetry-{vehicle_id}.csv"

    def time_range(self) -> tuple[datetime, datetime]:
        """The chosen range as aware UTC datetimes (the edits show local time)."""
        return _utc(self.since_edit), _utc(self.until_edit)

    @asyncSlot()
    async def export(self, path: Path | None) -> None:
        since, until = self.time_range()
        if until <= since:
            self.message.setText("“To” must be after “From”.")
            return
        path = path or await self._ask_path(self, self.suggested_name)
        if path is None:
            return
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(False)
        self.message.setText("Exporting…")
        try:
            count = await self._exports.telemetry(path, self.vehicle_id, since, until)
        except Exception as exc:
            logger.exception("telemetry export failed")
            self.message.setText(f"Export failed: {exc}")
            return
        finally:
            save.setEnabled(True)
        self.exported = count
        self.message.setText(f"{count:,} samples exported to {path}.")
