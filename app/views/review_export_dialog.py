"""File → "Export for Offline Review…": choose vehicles, time range and file; export off the UI.

The export itself (:mod:`app.services.telemetry.review_export`) is blocking, so it runs on a worker
thread; its progress comes back to the loop thread and drives a progress dialog.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QDateTime
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QProgressDialog,
)
from qasync import asyncSlot

from app.services.telemetry.review_export import (
    ExportError,
    ExportRequest,
    ExportSummary,
    export_for_review,
)
from app.views.dialogs import ask_save_path, run_dialog

if TYPE_CHECKING:
    from app.views.main_window import MainWindow

logger = logging.getLogger(__name__)


class ExportDialog(QDialog):
    """Which vehicles and which time range; the file is asked for after OK."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Export for Offline Review")
        now = QDateTime.currentDateTimeUtc()
        self.selected_only = QCheckBox("Only the selected vehicle")
        self.selected_only.setEnabled(window.current_vehicle_id() is not None)
        self.since = QDateTimeEdit(now.addDays(-7))
        self.until = QDateTimeEdit(now)
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(self.selected_only)
        form.addRow("From", self.since)
        form.addRow("To", self.until)
        form.addRow(buttons)

    def request(self, selected: int | None) -> ExportRequest:
        def utc(edit: QDateTimeEdit) -> datetime:
            return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), UTC)

        ids = [selected] if self.selected_only.isChecked() and selected is not None else None
        return ExportRequest(ids, utc(self.since), utc(self.until))


class ReviewExport:
    """Installs the action on the window and runs exports."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.action = QAction("E&xport for Offline Review…", window)
        self.action.triggered.connect(lambda _checked=False: self.start())
        window.addAction(self.action)
        window.file_menu.addAction(self.action)

    @asyncSlot()
    async def start(self) -> None:
        window = self._window
        dialog = ExportDialog(window)
        if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        target = await ask_save_path(
            window, "Export for Offline Review", f"fleet-review-{stamp}.sqlite", "SQLite (*.sqlite)"
        )
        if target is not None:
            await self.export(target, dialog.request(window.current_vehicle_id()))

    async def export(self, target: Path, request: ExportRequest) -> ExportSummary | None:
        """Export with a progress dialog; the outcome goes to the status bar."""
        window = self._window
        progress = QProgressDialog("Exporting for offline review…", "", 0, 100, window)
        progress.setCancelButton(None)
        progress.setMinimumDuration(300)
        loop = asyncio.get_running_loop()

        def report(done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            loop.call_soon_threadsafe(progress.setValue, percent)

        try:
            summary = await asyncio.to_thread(
                export_for_review, window.context.database, target, request, report
            )
        except ExportError as exc:
            window.statusBar().showMessage(f"Export failed: {exc}")
            return None
        finally:
            progress.close()
        rows = summary.rows
        window.statusBar().showMessage(
            f"Exported {rows.get('vehicle', 0)} vehicles and {rows.get('telemetry_sample', 0):,} "
            f"readings to {target} (open with --review)",
            15_000,
        )
        return summary
