"""The detail panel of the selected vehicle: identity, connection, latest readings.

Fields without data say "waiting for first data" rather than staying blank, so an
operator can tell "nothing arrived yet" from "the screen is broken".

Everything sits in a scroll area: the groups and the panels embedded in them (Smartcar,
IoT device, commands, readouts) are taller than a laptop screen together, and a layout
that must fit them made the main window grow past the screen edge on every selection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.models.vehicles import VehicleRow
from app.views import formatting as fmt
from app.views.telemetry_readouts import TelemetryReadouts

if TYPE_CHECKING:
    from app.views.connection_panel import ConnectionPanel
    from app.views.iot_device_panel import IotDevicePanel
    from app.views.maintenance_panel import MaintenancePanel
    from app.views.vehicle_commands_panel import VehicleCommandsPanel


class VehicleDetailPanel(QWidget):
    """Shows one VehicleRow; ``show_vehicle(None)`` shows the empty state."""

    #: The Smartcar panel inside the "Connection" group, once the window installed one.
    connection_panel: ConnectionPanel | None = None
    #: The IoT device panel (issue 6), shown by itself only for IoT vehicles.
    iot_panel: IotDevicePanel | None = None
    #: Lock / Unlock for connected Smartcar cars (issue 7), shown by itself when usable.
    commands_panel: VehicleCommandsPanel | None = None
    #: "Maintenance: due in …" and the plan dialog (issue #19), below the vehicle's rows.
    maintenance_panel: MaintenancePanel | None = None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("vehicleDetail")
        self.title = QLabel("Select a vehicle in the list")
        self.title.setObjectName("detailTitle")
        self.title.setStyleSheet("font-size: 15pt; font-weight: 600")
        self.values: dict[str, QLabel] = {}

        self.identity = self._group(
            "Vehicle",
            [
                ("fleet_number", "Fleet number"),
                ("kind", "Kind"),
                ("make_model_year", "Make / model / year"),
                ("vin", "VIN"),
                ("imei", "IMEI"),
                ("plate", "Plate"),
                ("status", "Status"),
            ],
        )
        self.connection = self._group(
            "Connection", [("connection", "Connection"), ("connection_status", "Status")]
        )
        self.telemetry = self._group("Latest readings", [("last_heard", "Last heard")])
        # Every latest value with its own age (telemetry_readouts.py).
        self.readouts = TelemetryReadouts()
        _form(self.telemetry).addRow(self.readouts)
        content = QWidget()
        content.setObjectName("vehicleDetailContent")
        layout = QVBoxLayout(content)
        layout.addWidget(self.title)
        for group in (self.identity, self.connection, self.telemetry):
            layout.addWidget(group)
        layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("vehicleDetailScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        self.show_vehicle(None)

    def _group(self, title: str, rows: list[tuple[str, str]]) -> QGroupBox:
        group = QGroupBox(title)
        form = QFormLayout(group)
        for key, label in rows:
            value = QLabel()
            value.setObjectName(f"detail_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(label, value)
        return group

    def text(self, key: str) -> str:
        return self.values[key].text()

    def _embed(self, panel: QWidget) -> None:
        """Add a panel below the Connection group's rows; it shows itself when it applies."""
        _form(self.connection).addRow(panel)

    def set_connection_panel(self, panel: ConnectionPanel) -> None:
        """The Smartcar connection panel (connection_panel.py)."""
        self.connection_panel = panel
        self._embed(panel)

    def set_iot_panel(self, panel: IotDevicePanel) -> None:
        """The IoT device panel (iot_device_panel.py)."""
        self.iot_panel = panel
        self._embed(panel)

    def set_commands_panel(self, panel: VehicleCommandsPanel) -> None:
        """The remote commands panel (vehicle_commands_panel.py)."""
        self.commands_panel = panel
        self._embed(panel)

    def set_maintenance_panel(self, panel: MaintenancePanel) -> None:
        """The maintenance line (maintenance_panel.py), in the Vehicle group."""
        self.maintenance_panel = panel
        _form(self.identity).addRow(panel)

    def show_vehicle(self, row: VehicleRow | None, now: datetime | None = None) -> None:
        for group in (self.identity, self.connection, self.telemetry):
            group.setVisible(row is not None)
        self.readouts.show_vehicle(row.id if row is not None else None)
        if self.connection_panel is not None:
            self.connection_panel.show_vehicle(row)
        if self.iot_panel is not None:
            self.iot_panel.show_vehicle(row)
        if self.commands_panel is not None:
            self.commands_panel.show_vehicle(row)
        if self.maintenance_panel is not None:
            self.maintenance_panel.show_vehicle(row)
        if row is None:
            self.title.setText("Select a vehicle in the list")
            return
        now = now or datetime.now(UTC)
        self.title.setText(f"{row.name}{'  (archived)' if row.archived else ''}")
        year = f" {row.year}" if row.year else ""
        values = {
            "fleet_number": row.fleet_number,
            "kind": fmt.KIND_LABELS.get(row.kind, row.kind),
            "make_model_year": f"{row.make} {row.model}{year}".strip() or "—",
            "vin": row.vin or "—",
            "imei": row.imei or "—",
            "plate": row.plate or "—",
            "status": fmt.STATUS_LABELS.get(row.status, row.status),
            "connection": {
                "smartcar": "Smartcar",
                "iot": f"IoT device ({row.iot_vendor})" if row.iot_vendor else "IoT device",
                "none": "None",
            }.get(row.connection_type, row.connection_type),
            "connection_status": (
                fmt.CONNECTION_STATUS_LABELS.get(row.connection_status, row.connection_status)
                if row.connection_status
                else ("Not connected" if row.connection_type != "iot" else "—")
            ),
            "last_heard": fmt.age(row.last_heard_at, now) or fmt.WAITING,
        }
        for key, value in values.items():
            self.values[key].setText(value)


def _form(group: QGroupBox) -> QFormLayout:
    """The form ``VehicleDetailPanel._group`` gave ``group``."""
    form = group.layout()
    assert isinstance(form, QFormLayout)
    return form
