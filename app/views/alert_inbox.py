"""The alert inbox: open alerts (most severe first), filter by kind, acknowledge.

Acknowledged alerts stay listed (unless "Unacknowledged only") but muted: grey italic
text and "Acknowledged by … at …", so the eye goes to the ones nobody has taken yet.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.errors import DatabaseError
from app.services.alerts.rules import LABELS
from app.services.alerts.service import AlertService
from app.views.fit_content import widen_to_table
from app.views.lifetime import gone
from app.views.ops_tables import fill, make_table, selected_ids
from app.views.rental_views import _when

HEADERS = ["Severity", "Vehicle", "Alert", "Details", "First seen", "Last seen", "Count", "Ack"]
MUTED = QColor("#8a8f98")  # the not-ready grey of the status colours: "dealt with"


class AlertInbox(QWidget):
    def __init__(
        self, alerts: AlertService, who: str, parent=None, *, refusal: str | None = None
    ) -> None:
        """``refusal``: why the signed-in person may not acknowledge (None: they may)."""
        super().__init__(parent)
        self.setObjectName("alertInbox")
        self.setWindowTitle("Alerts")
        self._alerts = alerts
        self._who = who
        self.kind = QComboBox()
        self.kind.addItem("All alerts", None)
        for kind, label in LABELS.items():
            self.kind.addItem(label, kind.value)
        self.show_cleared = QCheckBox("Show cleared")
        self.unacknowledged = QCheckBox("Unacknowledged only")
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.setEnabled(refusal is None)
        self.ack_button.setToolTip(refusal or "")
        self.count = QLabel("")
        self.problem = QLabel(refusal or "")  # a refusal, or why acknowledging failed
        self.problem.setObjectName("alertProblem")
        self.problem.setWordWrap(True)
        self.table = make_table(HEADERS, "alertTable")
        for signal in (
            self.kind.currentIndexChanged,
            self.show_cleared.toggled,
            self.unacknowledged.toggled,
        ):
            signal.connect(lambda *_: self.reload())
        self.ack_button.clicked.connect(self.acknowledge_selected)
        bar = QHBoxLayout()
        for w in (self.kind, self.show_cleared, self.unacknowledged, self.ack_button, self.count):
            bar.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.problem)
        layout.addWidget(self.table)
        alerts.changes.subscribe(self.reload)

    @asyncSlot()
    async def reload(self) -> None:
        records = await self._alerts.inbox(
            include_cleared=self.show_cleared.isChecked(),
            include_acknowledged=not self.unacknowledged.isChecked(),
            kind=self.kind.currentData(),
        )
        if gone(self):
            return
        rows: list[tuple[int, list[object]]] = []
        acknowledged: list[tuple[int, str]] = []
        for r in records:
            label = next((v for k, v in LABELS.items() if k.value == r.kind), r.kind)
            ack = ""
            if r.acknowledged_by:
                ack = f"Acknowledged by {r.acknowledged_by} at {_when(r.acknowledged_at)}"
                acknowledged.append((len(rows), ack))
            state = r.severity + (" (cleared)" if r.cleared_at else "")
            rows.append(
                (
                    r.id,
                    [
                        state,
                        f"{r.vehicle_name} [{r.fleet_number}]",
                        label,
                        r.message,
                        _when(r.first_seen),
                        _when(r.last_seen),
                        r.count,
                        ack,
                    ],
                )
            )
        fill(self.table, rows)
        for row, ack in acknowledged:
            self._mute(row, ack)
        if self.isWindow():
            widen_to_table(self, self.table)
        self.count.setText(f"{len(rows)} alert(s)")

    def _mute(self, row: int, tooltip: str) -> None:
        for column in range(self.table.columnCount()):
            item = self.table.item(row, column)
            assert item is not None  # fill() just set every cell of every row
            item.setForeground(QBrush(MUTED))
            font = item.font()
            font.setItalic(True)
            item.setFont(font)
            item.setToolTip(tooltip)

    @asyncSlot()
    async def acknowledge_selected(self) -> None:
        ids = selected_ids(self.table)
        if not ids or not self.ack_button.isEnabled():
            return
        try:
            await self._alerts.acknowledge(ids, self._who)
        except DatabaseError as exc:  # e.g. the role was revoked mid-shift
            self.problem.setText(f"Not acknowledged: {exc}")
            return
        self.problem.setText("")
