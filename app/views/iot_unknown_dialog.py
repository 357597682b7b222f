"""The "Unknown devices" inbox: devices that reported but belong to no vehicle, and claiming.

Unknown devices are never accepted silently (DESIGN.md); they wait here with id,
protocol, address, first/last seen and frame count. "Claim into vehicle…" registers one
as the device of an existing vehicle without a device, or of a new vehicle created in the
Add Vehicle dialog pre-filled with its IMEI. A claimed device's next re-send is stored.
A device that came to another protocol's port is marked in the list and, when selected,
says so under it ("looks like GT06 on the Teltonika port (5027): ..."), since claiming it
alone does not fix it. The text sits under the table, not in a column, so the columns
that must show whole IMEIs keep the dialog's width.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.integrations.iot.profiles import vendor_for_protocol
from app.models.enums import ConnectionType, VehicleKind
from app.models.iot_devices import (
    ClaimCandidate,
    ClaimError,
    UnknownEntry,
)
from app.models.vehicles import VehicleFields
from app.services.access import Capability
from app.services.iot.ingest import INBOX_MAX, INBOX_PER_ADDRESS
from app.services.iot.runtime import IotRuntime
from app.services.wiring.context import AppContext
from app.views.fit_content import widen_to_table
from app.views.lifetime import gone
from app.views.vehicle_dialog import VehicleDialog

logger = logging.getLogger(__name__)

COLUMNS = ("Device id", "Protocol", "Address", "First seen", "Last seen", "Frames")
WRONG_PORT = "wrong port"  # the Frames column's suffix for a device with a hint
NEW_VEHICLE = -1


def _time(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


class UnknownDevicesDialog(QDialog):
    """Lists the inbox and claims devices; ``claimed(vehicle_id)`` after each claim."""

    claimed = Signal(int)

    def __init__(
        self,
        context: AppContext,
        runtime: Callable[[], IotRuntime | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unknown devices")
        self.setObjectName("unknownDevicesDialog")
        self.resize(820, 420)
        self._context = context
        self._runtime = runtime
        self.entries: list[UnknownEntry] = []
        self.vehicle_dialog: VehicleDialog | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("unknownTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.target = QComboBox()
        self.target.setObjectName("claimTarget")
        self.claim_button = QPushButton("Claim into vehicle…")
        self.claim_button.setObjectName("claimButton")
        self.claim_button.clicked.connect(lambda _c=False: self.claim())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda _c=False: self.reload())
        self.empty = QLabel("No unknown devices have reported.")
        self.empty.setVisible(False)
        self.refused = QLabel()  # the inbox is bounded (app/services/iot/ingest.py)
        self.refused.setObjectName("unknownRefused")
        self.refused.setWordWrap(True)
        self.refused.setVisible(False)
        self.note = QLabel()  # the selected device's wrong-port hint
        self.note.setObjectName("unknownNote")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.status = QLabel()
        self.status.setObjectName("unknownStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        claim_bar = QHBoxLayout()
        claim_bar.addWidget(QLabel("Claim the selected device into:"))
        claim_bar.addWidget(self.target, 1)
        claim_bar.addWidget(self.claim_button)
        claim_bar.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        layout.addWidget(self.empty)
        layout.addWidget(self.refused)
        layout.addLayout(claim_bar)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self._remove_listener: Callable[[], None] | None = None
        live = runtime()
        if live is not None:  # new sightings refresh the list, at most twice a second
            self._coalesce = QTimer(self, singleShot=True, interval=500)
            self._coalesce.timeout.connect(lambda: self.reload())
            self._remove_listener = live.ingest.unknown_changes.subscribe(self._coalesce.start)
        self.finished.connect(self._stop_listening)
        self._update_buttons()

    def _stop_listening(self, *_: object) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    @asyncSlot()
    async def reload(self) -> None:
        """Re-read the inbox and the vehicles a device can be claimed into."""
        iot = self._context.iot
        try:
            entries = await iot.unknown_devices()
            candidates = await iot.claim_candidates()
        except Exception as exc:
            logger.exception("loading the unknown devices failed")
            self.status.setText(f"Could not load the unknown devices: {exc}")
            return
        if not gone(self):
            self._show(entries, candidates)

    def _show(self, entries: list[UnknownEntry], candidates: list[ClaimCandidate]) -> None:
        selected = self.selected()
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            cells = (e.device_id, e.protocol, e.address, _time(e.first_seen), _time(e.last_seen))
            frames = f"{e.count:,} · {WRONG_PORT}" if e.hint else f"{e.count:,}"
            for column, text in enumerate((*cells, frames)):
                item = QTableWidgetItem(text)
                item.setToolTip(e.hint)
                self.table.setItem(row, column, item)
            if selected is not None and e.id == selected.id:
                self.table.selectRow(row)
        widen_to_table(self, self.table)  # a cut IMEI cannot be read back or claimed by eye
        current = self.target.currentData()
        self.target.clear()
        self.target.addItem("A new vehicle (Add Vehicle dialog)…", NEW_VEHICLE)
        for c in candidates:
            self.target.addItem(f"{c.name} [{c.fleet_number}]", c.vehicle_id)
        if current is not None and self.target.findData(current) >= 0:
            self.target.setCurrentIndex(self.target.findData(current))
        self.empty.setVisible(not entries)
        runtime = self._runtime()
        refused = runtime.ingest.inbox_refused if runtime is not None else 0
        self.refused.setText(
            f"The list is full: {refused:,} report(s) from further new device ids were "
            f"refused (at most {INBOX_MAX:,} devices, {INBOX_PER_ADDRESS:,} per address). "
            "Claim or register the ones you know to make room."
        )
        self.refused.setVisible(refused > 0)
        self._update_buttons()

    def selected(self) -> UnknownEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _update_buttons(self) -> None:
        entry = self.selected()
        self.note.setText(f"{entry.device_id} {entry.hint}" if entry and entry.hint else "")
        self.note.setVisible(bool(entry and entry.hint))
        refusal = self._context.access.refusal(Capability.DEVICES)
        ok = entry is not None and refusal is None
        self.claim_button.setEnabled(ok)
        if refusal is not None:
            self.claim_button.setToolTip(refusal)

    def claim(self) -> VehicleDialog | None:
        """Claim the selected device into the chosen vehicle (or open Add Vehicle first)."""
        entry = self.selected()
        if entry is None:
            return None
        target = self.target.currentData()
        if target != NEW_VEHICLE:
            self._claim(entry, target)
            return None
        is_imei = entry.device_id.isdigit() and len(entry.device_id) == 15
        initial = VehicleFields(
            name="",
            fleet_number="",
            kind=VehicleKind.SCOOTER.value,
            imei=entry.device_id if is_imei else None,
            connection_type=ConnectionType.IOT.value,
            iot_vendor=vendor_for_protocol(entry.protocol) or None,
        )
        dialog = VehicleDialog(self._context.vehicles, initial=initial, parent=self)
        dialog.setWindowTitle(f"Add Vehicle for device {entry.device_id}")
        dialog.saved.connect(lambda vehicle_id: self._claim(entry, vehicle_id))
        dialog.open()
        self.vehicle_dialog = dialog
        return dialog

    @asyncSlot()
    async def _claim(self, entry: UnknownEntry, vehicle_id: int) -> None:
        self.claim_button.setEnabled(False)
        try:
            device = await self._context.iot.claim(entry.id, vehicle_id)
        except ClaimError as exc:
            self.status.setText(f"Not claimed: {exc}")
            return
        except Exception as exc:
            logger.exception("claiming device %s failed", entry.device_id)
            self.status.setText(f"Not claimed: {exc}")
            return
        finally:
            self._update_buttons()
        later = (
            "its next report is stored."
            if self._runtime() is not None
            else "the gateway stores its reports within a minute (when it next reads the "
            "registered devices)."
        )
        self.status.setText(
            f"Device {device.device_id} ({device.protocol}) now belongs to the vehicle; {later}"
        )
        self.claimed.emit(vehicle_id)
        await self.reload()
