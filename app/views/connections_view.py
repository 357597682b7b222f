"""Connections: every car's Smartcar connection for depot managers, problems first.

Sorted Error, Expired, Pending, Active-but-not-rentable, Active, Disconnected, so the
morning check is "work down from the top until it's green". Bulk Refresh re-reads the
selected (or all) connections and reports each failure in its row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.models.connections import ConnectionRecord
from app.services.connections.health import missing_permissions, rentable, sort_for_attention
from app.services.connections.service import ConnectionService
from app.services.webhooks.runtime import ReceiverStatus, WebhookRuntime
from app.views import formatting as fmt

logger = logging.getLogger(__name__)

COLUMNS = (
    "Vehicle",
    "Fleet no.",
    "Status",
    "Rentable",
    "Reason",
    "Last sync",
    "API",
    "Webhook",
    "Access renews by",
    "Requests this month",
)
#: How often the receiver line is redrawn while the window is open (counts move fast).
RECEIVER_REDRAW_MS = 2000


def receiver_text(status: ReceiverStatus, now: datetime) -> tuple[str, bool]:
    """The receiver line and whether it needs attention (not listening, no webhook id,
    or a delivery refused in the last hour)."""
    if status.url is None:
        return "Webhook receiver: not listening (see the status bar; it restarts)", True
    counts = status.counts
    text = (
        f"Webhook receiver: listening on {status.url} · {counts.get('stored', 0)} stored"
        f" · {counts.get('duplicate', 0)} duplicate · {status.refused} refused"
    )
    if status.webhook_id is None:
        return text + " · no webhook id set (smartcar.webhooks.webhook_id): cars are polled", True
    refusal = status.last_refusal
    if refusal is None:
        return text, False
    when = datetime.fromtimestamp(refusal.at, UTC)
    text += f" (last {when.astimezone():%H:%M:%S}: {refusal.status} {refusal.reason})"
    return text, (now - when).total_seconds() < 3600


class ConnectionsView(QDialog):
    """Signals: vehicle_chosen(int) on double-click; loaded(int) rows after each (re)load."""

    vehicle_chosen = Signal(int)
    loaded = Signal(int)

    def __init__(
        self,
        service: ConnectionService,
        *,
        read_only: bool = False,
        monthly_budget: int | None = None,
        webhooks: WebhookRuntime | None = None,
        without_webhooks: str = "",
        parent: QWidget | None = None,
    ) -> None:
        """``webhooks`` is this process's receiver, if it runs one; else
        ``without_webhooks`` says where the cars' data comes from instead."""
        super().__init__(parent)
        self.setObjectName("connectionsView")
        self.setWindowTitle("Smartcar connections")
        self.resize(1100, 520)
        self.service = service
        self.monthly_budget = monthly_budget
        self.records: list[ConnectionRecord] = []
        self.failures: dict[int, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("connectionsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # nothing cut off
        header.setSectionResizeMode(COLUMNS.index("Reason"), QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._chosen)
        self.summary = QLabel()
        self.summary.setObjectName("connectionsSummary")
        self.webhooks = webhooks
        self.receiver = QLabel(without_webhooks)
        self.receiver.setObjectName("webhookReceiverStatus")
        self.receiver.setWordWrap(True)
        self.receiver.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receiver.setVisible(webhooks is not None or bool(without_webhooks))
        self._redraw = QTimer(self)
        self._redraw.setInterval(RECEIVER_REDRAW_MS)
        self._redraw.timeout.connect(self.show_receiver)
        if webhooks is not None:
            self._redraw.start()
        self.refresh_selected = QPushButton("Refresh selected")
        self.refresh_selected.setObjectName("refreshSelected")
        self.refresh_all = QPushButton("Refresh all")
        self.refresh_all.setObjectName("refreshAll")
        self.refresh_selected.clicked.connect(lambda _c=False: self.refresh(selected_only=True))
        self.refresh_all.clicked.connect(lambda _c=False: self.refresh(selected_only=False))
        for button in (self.refresh_selected, self.refresh_all):
            # Refreshing uses the grants, which on a shared database only the collector holds.
            button.setEnabled(not read_only and service.available and not service.hands_off)
            if service.hands_off:
                button.setToolTip("On a shared database the collector keeps connections fresh")
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for button in (self.refresh_selected, self.refresh_all, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.receiver)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reload(self) -> asyncio.Task[Any]:
        return self._spawn(self._reload())

    def show_receiver(self) -> None:
        if self.webhooks is None:
            return
        text, attention = receiver_text(self.webhooks.status(), datetime.now(UTC))
        self.receiver.setText(text)
        self.receiver.setStyleSheet(
            f"color: {fmt.CONNECTION_STATUS_COLOURS['error']};" if attention else ""
        )

    async def _reload(self) -> None:
        self.show_receiver()
        self.records = sort_for_attention(await self.service.all_connections())
        now = datetime.now(UTC)
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            ok = rentable(record)
            reason = self.failures.get(record.id) or record.status_reason
            cells = (
                record.vehicle_name,
                record.fleet_number,
                fmt.CONNECTION_STATUS_LABELS.get(record.status, record.status),
                "Yes" if ok else ("No" if record.status != "disconnected" else "—"),
                reason,
                fmt.age(record.last_sync_at, now) or "never",
                "V3" if record.v3 else "v2.0",
                fmt.webhook_text(record, now),
                record.access_expires_at.astimezone().strftime("%Y-%m-%d %H:%M")
                if record.access_expires_at
                else ("application token" if record.v3 else "—"),
                f"{record.requests_this_month} / {self.monthly_budget}"
                if self.monthly_budget
                else str(record.requests_this_month),
            )
            items = [QTableWidgetItem(text) for text in cells]
            for column, item in enumerate(items):
                item.setData(Qt.ItemDataRole.UserRole, record.vehicle_id)
                self.table.setItem(row, column, item)
            colour = fmt.CONNECTION_STATUS_COLOURS.get(record.status)
            if colour:
                items[2].setForeground(QColor(colour))
        attention = sum(
            1
            for r in self.records
            if r.status in ("error", "expired")
            or (r.status == "active" and missing_permissions(r.granted_scopes))
        )
        self.summary.setText(
            f"{len(self.records)} connections, {attention} need attention"
            if attention
            else f"{len(self.records)} connections, all fine"
        )
        self.loaded.emit(len(self.records))

    def refresh(self, *, selected_only: bool) -> asyncio.Task[Any]:
        rows = {i.row() for i in self.table.selectedIndexes()} if selected_only else None
        ids = [
            r.id for n, r in enumerate(self.records) if r.can_call and (rows is None or n in rows)
        ]
        return self._spawn(self._refresh(ids))

    async def _refresh(self, ids: list[int]) -> None:
        if not ids:
            self.summary.setText("Nothing to refresh (select connected cars).")
            return
        for button in (self.refresh_selected, self.refresh_all):
            button.setEnabled(False)
        self.summary.setText(f"Refreshing {len(ids)} connections…")
        try:
            results = await self.service.refresh_many(ids)
        finally:
            for button in (self.refresh_selected, self.refresh_all):
                button.setEnabled(True)
        self.failures = {i: f"Refresh failed: {m}" for i, m in results.items() if m}
        await self._reload()

    def _chosen(self, row: int, _column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.vehicle_chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def done(self, result: int) -> None:
        self._redraw.stop()
        for task in list(self._tasks):
            task.cancel()
        super().done(result)
