"""Add Vehicle / Edit Vehicle: one form, checked as the operator types.

Rules that need no database (VIN shape and check digit, IMEI Luhn digit, Smartcar model
year) are shown under each field as the operator types; OK checks everything again plus
duplicates, and on any problem the dialog stays open with the reason under the field.

The *Hold* field is the operator's part of the vehicle status: Maintenance or Not ready
keep the vehicle out of service whatever its telemetry says, until set back to "None";
every other status is derived (app.services.vehicles.status). The dialog grows to fit the
reasons it shows (issue #13 item 9: VIN errors were cut off).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.vehicles import VehicleFields
from app.services.vehicles.service import VehicleInvalid, VehicleService, check, normalise
from app.views.formatting import KIND_LABELS

logger = logging.getLogger(__name__)

CONNECTION_LABELS = {
    "none": "None",
    "smartcar": "Smartcar (built-in telematics)",
    "iot": "IoT device",
}
POWERTRAIN_LABELS = {None: "—", "ice": "Combustion", "bev": "Electric", "phev": "Plug-in hybrid"}
IOT_VENDORS = ("OKAI", "Segway", "ZIMO", "Omni", "Teltonika", "Concox")
HOLD_LABELS = {
    "available": "None (status follows the vehicle)",
    "maintenance": "Maintenance",
    "not_ready": "Not ready",
}
#: The form's width in average characters: the longest reason under a field fits on
#: two lines.
FORM_CHARS = 64


class VehicleDialog(QDialog):
    """Create a vehicle (``vehicle_id`` None) or edit one.

    Signals:
        saved(int): the vehicle id, after it was stored.
    """

    saved = Signal(int)

    def __init__(
        self,
        service: VehicleService,
        *,
        vehicle_id: int | None = None,
        initial: VehicleFields | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._vehicle_id = vehicle_id
        self.setWindowTitle("Edit Vehicle" if vehicle_id else "Add Vehicle")
        self.setObjectName("vehicleDialog")

        self.name = QLineEdit()
        self.fleet_number = QLineEdit()
        self.kind = self._combo(KIND_LABELS)
        self.make = QLineEdit()
        self.model = QLineEdit()
        self.year = QLineEdit()
        self.year.setValidator(QIntValidator(1980, 2100, self))
        self.year.setPlaceholderText("e.g. 2021")
        self.plate = QLineEdit()
        self.vin = QLineEdit()
        self.vin.setMaxLength(17)
        self.vin.setPlaceholderText("17 characters, no I, O or Q")
        self.imei = QLineEdit()
        self.imei.setMaxLength(15)
        self.imei.setPlaceholderText("15 digits")
        self.powertrain = self._combo(POWERTRAIN_LABELS)
        self.connection = self._combo(CONNECTION_LABELS)
        self.vendor = QComboBox()
        self.vendor.addItems(IOT_VENDORS)
        self.hold = self._combo(HOLD_LABELS)
        self.hold.setObjectName("statusHold")

        self.errors: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label, widget in (
            ("name", "&Name", self.name),
            ("fleet_number", "&Fleet number", self.fleet_number),
            ("kind", "&Kind", self.kind),
            ("make", "&Make", self.make),
            ("model", "M&odel", self.model),
            ("year", "Model &year", self.year),
            ("plate", "&Plate", self.plate),
            ("vin", "&VIN", self.vin),
            ("powertrain", "Po&wertrain", self.powertrain),
            ("connection_type", "&Connection", self.connection),
            ("iot_vendor", "IoT ve&ndor", self.vendor),
            ("imei", "&IMEI", self.imei),
            ("status", "&Hold", self.hold),
        ):
            error = QLabel()
            error.setObjectName(f"error_{key}")
            error.setStyleSheet("color: #c62828")
            error.setWordWrap(True)
            error.hide()
            self.errors[key] = error
            box = QVBoxLayout()
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(1)
            box.addWidget(widget)
            box.addWidget(error)
            holder = QWidget()
            holder.setLayout(box)
            form.addRow(label, holder)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.status = QLabel()
        self.status.setObjectName("dialogStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * FORM_CHARS)

        if initial is not None:
            self._load(initial)
        for line in (
            self.name,
            self.fleet_number,
            self.make,
            self.model,
            self.year,
            self.vin,
            self.imei,
            self.plate,
        ):
            line.textChanged.connect(self._revalidate)
        for combo in (self.kind, self.connection, self.powertrain, self.vendor):
            combo.currentIndexChanged.connect(self._revalidate)
        self._revalidate()
        self.adjustSize()

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def fields(self) -> VehicleFields:
        year = self.year.text().strip()
        connection = self.connection.currentData()
        return normalise(
            VehicleFields(
                name=self.name.text(),
                fleet_number=self.fleet_number.text(),
                kind=self.kind.currentData(),
                make=self.make.text(),
                model=self.model.text(),
                year=int(year) if year else None,
                vin=self.vin.text() or None,
                imei=self.imei.text() or None,
                plate=self.plate.text(),
                powertrain=self.powertrain.currentData(),
                connection_type=connection,
                status=self.hold.currentData(),
                iot_vendor=self.vendor.currentText() if connection == "iot" else None,
            )
        )

    def show_problems(self, problems: dict[str, str]) -> None:
        for key, label in self.errors.items():
            message = problems.get(key, "")
            label.setText(message)
            label.setVisible(bool(message))
        self._fit()

    def _fit(self) -> None:
        """Grow (never shrink below what the operator chose) to show every reason whole."""
        layout = self.layout()
        assert layout is not None  # __init__ set it
        layout.activate()
        hint = self.sizeHint()
        width = max(self.width(), hint.width())
        height = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else 0
        height = max(self.height(), height, hint.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)

    @asyncSlot()
    async def save(self) -> None:
        fields = self.fields()
        problems = check(fields)
        self.show_problems(problems)
        if problems:
            return
        self.buttons.setEnabled(False)
        self.status.setText("Saving…")
        try:
            if self._vehicle_id is None:
                vehicle_id = await self._service.add(fields)
            else:
                await self._service.update(self._vehicle_id, fields)
                vehicle_id = self._vehicle_id
        except VehicleInvalid as invalid:
            self.show_problems(invalid.problems)
            self.status.setText("Not saved: see the fields marked in red.")
            self._fit()
            return
        except Exception as exc:
            logger.exception("saving a vehicle failed")
            self.status.setText(f"Not saved: {exc}")
            return
        finally:
            self.buttons.setEnabled(True)
        self.status.setText("")
        self.saved.emit(vehicle_id)
        self.accept()

    def _revalidate(self) -> None:
        connection = self.connection.currentData()
        self.vendor.setEnabled(connection == "iot")
        problems = check(self.fields())
        # Required-but-empty fields are not shouted at while the form is still being filled.
        shown = {
            k: v for k, v in problems.items() if not k.endswith("name") and k != "fleet_number"
        }
        self.show_problems(shown)

    def _combo(self, labels: dict) -> QComboBox:
        combo = QComboBox()
        for value, text in labels.items():
            combo.addItem(text, value)
        return combo

    def _load(self, fields: VehicleFields) -> None:
        self.name.setText(fields.name)
        self.fleet_number.setText(fields.fleet_number)
        self.kind.setCurrentIndex(max(0, self.kind.findData(fields.kind)))
        self.make.setText(fields.make)
        self.model.setText(fields.model)
        self.year.setText(str(fields.year) if fields.year else "")
        self.plate.setText(fields.plate)
        self.vin.setText(fields.vin or "")
        self.imei.setText(fields.imei or "")
        self.powertrain.setCurrentIndex(max(0, self.powertrain.findData(fields.powertrain)))
        self.connection.setCurrentIndex(max(0, self.connection.findData(fields.connection_type)))
        if fields.iot_vendor:
            self.vendor.setCurrentText(fields.iot_vendor)
        hold = fields.status if fields.status in HOLD_LABELS else "available"
        self.hold.setCurrentIndex(self.hold.findData(hold))
