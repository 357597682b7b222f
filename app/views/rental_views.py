"""Rental start and check-out dialogs and the rentals board (active + history + receipt).

All work goes through RentalService on the loop; the views only show its answers. A
blocked start lists every gate problem; a blocked check-out names the open door.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.database import Database
from app.models.rentals import RentalRecord
from app.services.exports import export_rentals
from app.services.rental_states import LABELS, PRE_ACTIVE, parse_state
from app.services.rentals import RentalError, RentalService
from app.services.surcharges import Receipt, SurchargeLine
from app.views.ops_tables import ask_csv_path, fill, make_table, selected_ids

logger = logging.getLogger(__name__)

HEADERS = ["#", "Vehicle", "State", "Customer", "Operator", "Started", "Ended", "Surcharges"]


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def receipt_text(rental: RentalRecord, currency: str = "") -> str:
    lines = tuple(SurchargeLine.from_json(line) for line in rental.surcharge_lines)
    head = f"Rental #{rental.id} — {rental.vehicle_name} [{rental.fleet_number}]"
    billed = rental.surcharge_total is not None
    body = Receipt(lines, currency).text() if billed else "Not billed yet."
    return f"{head}\n{body}\n\nLog:\n{rental.note}"


class RentalStartDialog(QDialog):
    """Check the gate for one vehicle, then start the rental (readings come from the car)."""

    started = Signal(int)

    def __init__(self, rentals: RentalService, vehicle_id: int, name: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Start rental — {name}")
        self.setObjectName("rentalStartDialog")
        self._rentals = rentals
        self._vehicle_id = vehicle_id
        self.customer = QLineEdit()
        self.customer.setPlaceholderText("booking or customer reference")
        self.status = QLabel("Checking the vehicle…")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton(
            "Start rental", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.start_button.setEnabled(False)
        self.buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(self.start)
        form = QFormLayout(self)
        form.addRow("Customer", self.customer)
        form.addRow(self.status)
        form.addRow(self.buttons)
        self.rental: RentalRecord | None = None

    @asyncSlot()
    async def check(self) -> None:
        try:
            _, problems = await self._rentals.check_gate(self._vehicle_id)
        except RentalError as exc:
            problems = (str(exc),)
        if problems:
            self.status.setText("Cannot start:\n" + "\n".join(f"• {p}" for p in problems))
        else:
            self.status.setText("Ready: connection, permissions and telemetry are fine.")
        self.start_button.setEnabled(not problems)

    @asyncSlot()
    async def start(self) -> None:
        self.start_button.setEnabled(False)
        self.status.setText("Starting: reading the vehicle and unlocking…")
        try:
            self.rental = await self._rentals.start(self._vehicle_id, self.customer.text())
        except RentalError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Rental #{self.rental.id} is active; the vehicle is unlocked.")
        self.started.emit(self.rental.id)


class CheckoutDialog(QDialog):
    """Lock, verify, read, bill: shows the receipt or why the check-out is blocked."""

    def __init__(self, rentals: RentalService, rental: RentalRecord, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Check out rental #{rental.id} — {rental.vehicle_name}")
        self.setObjectName("checkoutDialog")
        self._rentals = rentals
        self._rental = rental
        self.result_text = QPlainTextEdit()
        self.result_text.setReadOnly(True)
        self.result_text.setPlainText("Check-out locks the vehicle and takes the end readings.")
        self.checkout_button = QPushButton("Check out")
        self.checkout_button.clicked.connect(self.check_out)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.checkout_button)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.result_text)
        layout.addLayout(row)

    @asyncSlot()
    async def check_out(self) -> None:
        self.checkout_button.setEnabled(False)
        try:
            done = await self._rentals.check_out(self._rental.id)
        except RentalError as exc:
            self.result_text.setPlainText(str(exc))
            self.checkout_button.setEnabled(True)
            return
        currency = self._rentals.currency
        self.result_text.setPlainText(receipt_text(done, currency))


class RentalsBoard(QWidget):
    """Active rentals (check out, cancel, retry unlock) and history with receipts."""

    def __init__(self, rentals: RentalService, database: Database, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("rentalsBoard")
        self.setWindowTitle("Rentals")
        self._rentals = rentals
        self._db = database
        self.active = make_table(HEADERS, "activeRentals")
        self.history = make_table(HEADERS, "rentalHistory")
        self.receipt = QPlainTextEdit()
        self.receipt.setReadOnly(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.checkout_button = QPushButton("Check out…")
        self.cancel_button = QPushButton("Cancel check-in")
        self.retry_button = QPushButton("Retry unlock")
        self.export_button = QPushButton("Export CSV…")
        self.checkout_button.clicked.connect(self.open_checkout)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.export_button.clicked.connect(lambda: self.export_csv(None))
        self.history.itemSelectionChanged.connect(self._show_receipt)
        buttons = QHBoxLayout()
        for b in (self.checkout_button, self.cancel_button, self.retry_button, self.export_button):
            buttons.addWidget(b)
        tabs = QTabWidget()
        tabs.addTab(self.active, "Active")
        history = QWidget()
        h = QVBoxLayout(history)
        h.addWidget(self.history)
        h.addWidget(self.receipt)
        tabs.addTab(history, "History")
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(tabs)
        self._records: dict[int, RentalRecord] = {}
        self.dialogs: list[QDialog] = []
        rentals.listeners.append(self._changed)

    def _changed(self, _rental_id: int) -> None:
        self.reload()

    @staticmethod
    def _cells(r: RentalRecord) -> tuple[int, list[object]]:
        total = "" if r.surcharge_total is None else f"{Decimal(r.surcharge_total):.2f}"
        state = LABELS[parse_state(r.state)]
        vehicle = f"{r.vehicle_name} [{r.fleet_number}]"
        return r.id, [
            r.id,
            vehicle,
            state,
            r.customer_ref,
            r.operator,
            _when(r.started_at),
            _when(r.ended_at),
            total,
        ]

    @asyncSlot()
    async def reload(self) -> None:
        open_ = await self._rentals.open_rentals()
        since = datetime.now(UTC) - timedelta(days=30)
        done = await self._rentals.history(since=since)
        self._records = {r.id: r for r in (*open_, *done)}
        fill(self.active, [self._cells(r) for r in open_])
        fill(self.history, [self._cells(r) for r in done])

    def _selected_active(self) -> RentalRecord | None:
        ids = selected_ids(self.active)
        return self._records.get(ids[0]) if ids else None

    def _show_receipt(self) -> None:
        ids = selected_ids(self.history)
        if ids and ids[0] in self._records:
            currency = self._rentals.currency
            self.receipt.setPlainText(receipt_text(self._records[ids[0]], currency))

    def open_checkout(self) -> CheckoutDialog | None:
        rental = self._selected_active()
        if rental is None:
            return None
        dialog = CheckoutDialog(self._rentals, rental, self)
        self.dialogs.append(dialog)
        dialog.show()
        return dialog

    async def _step(self, action: Callable[[int], object], verb: str) -> None:
        rental = self._selected_active()
        if rental is None:
            return
        try:
            await action(rental.id)  # type: ignore[misc]
            self.message.setText(f"Rental #{rental.id}: {verb}.")
        except (RentalError, ValueError) as exc:
            self.message.setText(str(exc))

    @asyncSlot()
    async def cancel_selected(self) -> None:
        rental = self._selected_active()
        if rental is not None and parse_state(rental.state) not in PRE_ACTIVE:
            self.message.setText("An active rental is ended by checking it out, not cancelled.")
            return
        await self._step(self._rentals.cancel, "cancelled")

    @asyncSlot()
    async def retry_selected(self) -> None:
        await self._step(self._rentals.unlock, "unlocked, rental active")

    @asyncSlot()
    async def export_csv(self, path: Path | None) -> None:
        path = path or await ask_csv_path(self, "rentals.csv")
        if path is None:
            return
        count = await self._db.run(export_rentals, self._db, path)
        self.message.setText(f"{count} rentals exported to {path}.")
