"""File → "Export for Offline Review…": choose vehicles, time range and file; export off the UI.

The export itself (:mod:`app.services.telemetry.review_export`) is blocking, so it runs on a worker
thread; its progress comes back to the loop thread and drives a progress dialog.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QDateTime
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QMenu,
    QProgressDialog,
    QWidget,
)
from qasync import asyncSlot

from app.services.telemetry.review_export import ExportError, ExportRequest, ExportSummary
from app.views.dialogs import ask_save_path, run_dialog
from app.views.window_parts import WindowParts

logger = logging.getLogger(__name__)


class ExportDialog(QDialog):
    """Which vehicles and which time range; the file is asked for after OK."""

    def __init__(self, parent: QWidget, selected: int | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export for Offline Review")
        now = QDateTime.currentDateTimeUtc()
        self.selected_only = QCheckBox("Only the selected vehicle")
        self.selected_only.setEnabled(selected is not None)
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

    def __init__(self, parts: WindowParts, menu: QMenu) -> None:
        """``menu`` is the window's File menu."""
        self._parts = parts
        self.action = QAction("E&xport for Offline Review…", parts.owner)
        self.action.triggered.connect(lambda _checked=False: self.start())
        parts.owner.addAction(self.action)
        menu.addAction(self.action)

    @asyncSlot()
    async def start(self) -> None:
        parts = self._parts
        dialog = ExportDialog(parts.owner, parts.fleet.current_vehicle_id())
        if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        target = await ask_save_path(
            parts.owner,
            "Export for Offline Review",
            f"fleet-review-{stamp}.sqlite",
            "SQLite (*.sqlite)",
        )
        if target is not None:
            await self.export(target, dialog.request(parts.fleet.current_vehicle_id()))

    async def export(self, target: Path, request: ExportRequest) -> ExportSummary | None:
        """Export with a progress dialog; the outcome goes to the status bar."""
        parts = self._parts
        progress = QProgressDialog("Exporting for offline review…", "", 0, 100, parts.owner)
        progress.setCancelButton(None)
        progress.setMinimumDuration(300)
        loop = asyncio.get_running_loop()

        def report(done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            loop.call_soon_threadsafe(progress.setValue, percent)

        try:
            summary = await parts.context.exports.for_review(target, request, report)
        except ExportError as exc:
            parts.show_message(f"Export failed: {exc}")
            return None
        finally:
            progress.close()
        rows = summary.rows
        left_out = "; Smartcar tokens left out" if summary.left_out else ""
        parts.show_message(
            f"Exported {rows.get('vehicle', 0)} vehicles and {rows.get('telemetry_sample', 0):,} "
            f"readings to {target} (open with --review{left_out})",
            15_000,
        )
        return summary
