"""The Smartcar part of the vehicle detail panel: status, permissions, times, actions.

Status is a coloured word plus a plain-language reason, so an operator knows what to do
("Reconnect needed", "owner revoked access", "car not responding") without reading logs,
and the last error is shown with when it happened. A car missing any of the eight
permissions is flagged Not rentable with what each missing permission blocks. In offline
review nothing is polled, so the panel says how old the data is instead of a live status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.integrations.smartcar.errors import SmartcarError
from app.models.connections import ConnectionRecord
from app.models.vehicles import VehicleRow
from app.services.access import READ_ONLY
from app.services.connections.health import PERMISSIONS, missing_permissions, rentable
from app.services.connections.service import ConnectionService
from app.services.connections.tokens import ConnectionProblem
from app.views import formatting as fmt
from app.views.connect_dialog import ConnectDialog
from app.views.dialogs import Confirm
from app.views.lifetime import gone

logger = logging.getLogger(__name__)


OFFLINE_COLOUR = "#616161"


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


def last_error(record: ConnectionRecord, now: datetime) -> str:
    """'UPSTREAM:NO_RESPONSE (502) — 2026-12-03 14:05 (3 min ago)', or 'none'."""
    if not record.last_error:
        return "none"
    if record.last_error_at is None:
        return f"{record.last_error} — time unknown"
    return (
        f"{record.last_error} — {when(record.last_error_at)} ({fmt.age(record.last_error_at, now)})"
    )


class ConnectionPanel(QWidget):
    """Signals:
    refresh_requested(int): "Refresh now" for this vehicle id (the telemetry poll hooks here).
    connection_changed(int): a connection of this vehicle id was made, changed or removed.
    loaded(int): the panel finished showing this vehicle id's connection (tests wait on it).
    """

    refresh_requested = Signal(int)
    connection_changed = Signal(int)
    loaded = Signal(int)

    def __init__(
        self,
        service: ConnectionService,
        confirm: Confirm,
        *,
        read_only: bool = False,
        refusal: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``refusal``: why the signed-in person may not connect or disconnect cars."""
        super().__init__(parent)
        self.setObjectName("connectionPanel")
        self.service = service
        self.confirm = confirm
        self.read_only = read_only
        self.refusal = refusal
        self.row: VehicleRow | None = None
        self.record: ConnectionRecord | None = None
        self.dialog: ConnectDialog | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

        self.status = QLabel()
        self.status.setObjectName("connectionStatus")
        self.reason = self._wrapping("connectionReason")
        self.message = self._wrapping("connectionMessage")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label in (
            ("car", "Smartcar car"),
            ("vin", "VIN"),
            ("granted", "Permissions"),
            ("missing", "Missing"),
            ("rentable", "Rentable"),
            ("connected_since", "Connected since"),
            ("last_sync", "Last successful sync"),
            ("last_error", "Last error"),
            ("last_command", "Last command"),
            ("token_expiry", "Access renews by"),
            ("webhook", "Webhook"),
        ):
            value = self._wrapping(f"connection_{key}")
            self.values[key] = value
            form.addRow(label, value)
        self.connect_button = self._button("Connect Car", "connectCar", self.start_connect)
        self.disconnect_button = self._button("Disconnect…", "disconnectCar", self._disconnect)
        self.refresh_button = self._button("Refresh now", "refreshConnection", self._refresh)
        buttons = QHBoxLayout()
        for button in (self.connect_button, self.refresh_button, self.disconnect_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.status, self.reason):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

    def _wrapping(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def _spawn(self, make: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Run ``make(*args)`` on the loop; skipped when no loop runs (a closed window's
        timer firing late) or after ``shutdown``, so no coroutine is left unawaited."""
        if self._closed:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        task = asyncio.ensure_future(make(*args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def shutdown(self) -> None:
        """The window is closing: stop loading and never start again."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self.dialog is not None:
            self.dialog.reject()

    # -- showing ---------------------------------------------------------------------------

    def show_vehicle(self, row: VehicleRow | None) -> None:
        """Show ``row``'s connection (loaded on the database thread); None or no car: hide."""
        changed = row is None or self.row is None or row.id != self.row.id
        self.row = row
        if changed:
            self.message.clear()
        self.setVisible(row is not None and row.kind == "car")
        if row is not None and row.kind == "car":
            self._spawn(self._load, row.id)

    async def _load(self, vehicle_id: int) -> None:
        record = await self.service.connection_for(vehicle_id)
        if gone(self) or self.row is None or self.row.id != vehicle_id:
            return
        self.record = record
        self._render()
        self.loaded.emit(vehicle_id)

    def _render(self) -> None:
        record = self.record
        in_progress = self.dialog is not None and self.dialog.isVisible()
        status = "pending" if in_progress else (record.status if record else None)
        if status is None:
            self._status("Not connected", fmt.CONNECTION_STATUS_COLOURS["pending"])
            self.reason.setText("Press Connect Car and have the owner log in with Smartcar.")
        elif self.read_only and record is not None:
            # Nothing is polled in review: a stored "Active, data is flowing" would lie.
            last = when(record.last_sync_at) if record.last_sync_at else "none"
            self._status(f"Offline review: last data {last}", OFFLINE_COLOUR)
            label = fmt.CONNECTION_STATUS_LABELS.get(record.status, record.status)
            self.reason.setText(
                f"Status when the file was saved: {label}. Nothing is read from Smartcar "
                "while reviewing."
            )
        else:
            colour = fmt.CONNECTION_STATUS_COLOURS.get(status, "#000000")
            self._status(fmt.CONNECTION_STATUS_LABELS.get(status, status), colour)
            self.reason.setText(
                "Connect in progress…" if in_progress else record.status_reason if record else ""
            )
        has = record is not None and record.status != "disconnected"
        scopes = record.granted_scopes if record else ()
        missing = missing_permissions(scopes) if has else []
        v = self.values
        v["car"].setText(
            f"{record.make} {record.model} {record.year or ''}".strip() if record else "—"
        )
        v["vin"].setText((record.vin or "—") if record else "—")
        v["granted"].setText(
            ", ".join(PERMISSIONS[s].label for s in scopes if s in PERMISSIONS) if has else "—"
        )
        v["missing"].setText(
            "\n".join(f"{PERMISSIONS[s].label}: blocks {PERMISSIONS[s].blocks}" for s in missing)
            or ("None" if has else "—")
        )
        v["missing"].setStyleSheet("color: #c62828" if missing else "")
        v["rentable"].setText(
            ("Yes" if rentable(record) else "No — not rentable") if has and record else "—"
        )
        now = datetime.now(UTC)
        v["connected_since"].setText(when(record.connected_at) if record else "—")
        v["last_sync"].setText(fmt.age(record.last_sync_at, now) or "never" if record else "—")
        v["last_error"].setText(last_error(record, now) if record else "—")
        v["last_error"].setStyleSheet("color: #c62828" if record and record.last_error else "")
        v["last_command"].setText(
            fmt.age(record.last_command_at, now) or "none yet" if has and record else "—"
        )
        v["token_expiry"].setText(
            "—"
            if not has or record is None
            else "application token (none per car)"
            if record.v3
            else when(record.access_expires_at)
        )
        v["webhook"].setText(fmt.webhook_text(record, now) if has and record else "—")
        self._update_buttons(in_progress)

    def _status(self, text: str, colour: str) -> None:
        self.status.setText(f"● {text}")
        self.status.setStyleSheet(f"color: {colour}; font-weight: 600")

    def _update_buttons(self, busy: bool) -> None:
        record = self.record
        live = record is not None and record.status != "disconnected"
        can_call = record is not None and bool(record.can_call)
        usable = self.service.available and not self.read_only and self.refusal is None and not busy
        self.connect_button.setText("Reconnect" if live else "Connect Car")
        self.connect_button.setEnabled(usable)
        if self.read_only:
            reason = f"{READ_ONLY}, nothing is sent"
        elif self.refusal is not None:
            reason = self.refusal
        elif not self.service.available:
            reason = "Smartcar is not available (see the status bar)"
        else:
            reason = ""
        for button in (self.connect_button, self.disconnect_button, self.refresh_button):
            button.setToolTip(reason)
        self.disconnect_button.setEnabled(usable and live and can_call)
        # Refreshing reads the car with its grant, which only the collector can use.
        hands_off = self.service.hands_off
        self.refresh_button.setEnabled(usable and live and can_call and not hands_off)
        if hands_off and not reason:
            self.refresh_button.setToolTip(
                "On a shared database the collector keeps connections fresh (it holds the "
                "Smartcar secret)"
            )

    # -- actions ---------------------------------------------------------------------------

    def start_connect(self) -> ConnectDialog | None:
        """Open the Connect Car dialog for the shown vehicle (Reconnect keeps all history)."""
        if (
            self.row is None
            or not self.service.available
            or self.read_only
            or self.refusal is not None
        ):
            return None
        self.message.clear()
        self.dialog = ConnectDialog(self.service, self.row, parent=self)
        self.dialog.connected.connect(self._after_connect)
        self.dialog.finished.connect(self._after_dialog)
        self.dialog.open()
        self.dialog.begin()
        self._render()
        return self.dialog

    def _after_connect(self, vehicle_ids: list[int]) -> None:
        for vehicle_id in vehicle_ids:
            self.connection_changed.emit(vehicle_id)

    def _after_dialog(self, _result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            self.message.setText(dialog.outcome)
        if self.row is not None:
            self._spawn(self._load, self.row.id)

    def _refresh(self) -> None:
        if self.row is not None and self.record is not None:
            self.refresh_requested.emit(self.row.id)
            self._spawn(self._refresh_now, self.record.id, self.row.id)

    async def _refresh_now(self, connection_id: int, vehicle_id: int) -> None:
        self.refresh_button.setEnabled(False)
        self.message.setText("Refreshing…")
        try:
            await self.service.refresh_now(connection_id)
            self.message.setText("Refreshed: attributes and permissions re-read.")
        except (ConnectionProblem, SmartcarError) as exc:
            self.message.setText(f"Refresh failed: {exc}")
        self.connection_changed.emit(vehicle_id)
        await self._load(vehicle_id)

    def _disconnect(self) -> None:
        record, row = self.record, self.row
        if record is not None and row is not None:
            self._spawn(self._disconnect_now, record.id, row)

    async def _disconnect_now(self, connection_id: int, row: VehicleRow) -> None:
        """Ask (awaited, never a nested modal loop), then disconnect."""
        if not await self.confirm(
            self,
            "Disconnect car",
            f"Disconnect {row.name} [{row.fleet_number}] from Smartcar?\n\nThe console stops "
            "reading and controlling it. Its history is kept; Connect Car restores it.",
        ):
            return
        vehicle_id = row.id
        try:
            await self.service.disconnect(connection_id)
            self.message.setText("Disconnected. History is kept.")
        except (ConnectionProblem, SmartcarError) as exc:
            self.message.setText(f"Not disconnected: {exc}")
        self.connection_changed.emit(vehicle_id)
        await self._load(vehicle_id)
