"""The audit trail: every remote command (who, when, vehicle, action, result), searchable,
exportable to CSV. (One vehicle's telemetry: telemetry_export_dialog.py.)"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget
from qasync import asyncSlot

from app.services.commands.audit import AuditTrail
from app.services.telemetry.reads import Exports
from app.views.lifetime import gone
from app.views.ops_tables import ask_csv_path, fill, make_table
from app.views.rental_views import _when

HEADERS = ["When", "Vehicle", "Action", "Channel", "Who", "Reason", "Result", "Error"]


class AuditView(QWidget):
    def __init__(self, audit: AuditTrail, exports: Exports, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self.setWindowTitle("Audit trail")
        self._audit = audit
        self._exports = exports
        self.search = QLineEdit()
        self.search.setPlaceholderText("vehicle, action, user or result")
        self.search.textChanged.connect(lambda _t: self.reload())
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.export_csv(None))
        self.message = QLabel("")
        self.table = make_table(HEADERS, "auditTable")
        bar = QHBoxLayout()
        for w in (self.search, self.export_button, self.message):
            bar.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)

    @asyncSlot()
    async def reload(self) -> None:
        search = self.search.text()  # here on the GUI thread, not in the database thread
        rows = await self._audit.rows(search=search)
        if gone(self):
            return
        fill(
            self.table,
            [
                (
                    r.id,
                    [
                        _when(r.created_at),
                        f"{r.vehicle_name} [{r.fleet_number}]",
                        r.action,
                        r.channel,
                        r.actor,
                        r.reason,
                        r.state,
                        r.error,
                    ],
                )
                for r in rows
            ],
        )

    @asyncSlot()
    async def export_csv(self, path: Path | None) -> None:
        path = path or await ask_csv_path(self, "audit-trail.csv")
        if path is None:
            return
        count = await self._exports.audit(path)
        self.message.setText(f"{count} commands exported to {path}.")
