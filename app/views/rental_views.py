"""Rental start and check-out dialogs and the rentals board (active + history + receipt).

All work goes through RentalService on the loop; the views only show its answers. A
blocked start lists every gate problem; one only an operator can judge ("motion unknown")
asks for a reason instead. A gate that passes says how it judged motion ("Parked: same
position since 09:42 UTC"), so the operator sees why the vehicle is believed parked. A
blocked check-out names the open door. Cancel in the start
dialog cancels a check-in it left open (a failed unlock), so no check-in is left behind,
and the board's "Cancel check-in" asks first.

Dialogs size themselves to their text (word-wrapped labels, a minimum width from the
font, ``adjustSize`` after each change): issue #13 item 9 saw them clip at 212×94 px.
"""

from __future__ import annotations

import asyncio
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
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.rentals import RentalRecord
from app.services.rentals.gate import GateResult
from app.services.rentals.service import RentalError, RentalService, RentalStepFailed
from app.services.rentals.states import LABELS, PRE_ACTIVE, parse_state
from app.services.rentals.surcharges import Receipt, SurchargeLine
from app.services.telemetry.reads import Exports
from app.views.dialogs import Confirm, ask
from app.views.lifetime import gone
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


def fit_to_text(dialog: QDialog, chars: int) -> None:
    """At least ``chars`` average characters wide, and tall enough for every wrapped line."""
    dialog.setMinimumWidth(dialog.fontMetrics().averageCharWidth() * chars)
    layout = dialog.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.activate()
    dialog.adjustSize()


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
        self.override = QLineEdit()
        self.override.setObjectName("overrideReason")
        self.override.setPlaceholderText("why it is safe to start anyway (kept in the log)")
        self.override_label = QLabel("Override reason")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton(
            "Start rental", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.start_button.setEnabled(False)
        self.buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(self.start)
        self.override.textChanged.connect(self._update_start)
        form = QFormLayout()
        form.addRow("Customer", self.customer)
        form.addRow(self.override_label, self.override)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._show_override(False)
        self.rental: RentalRecord | None = None
        #: A check-in this dialog opened and that is not active yet (the unlock failed).
        self.check_in: RentalRecord | None = None
        self._gate: GateResult | None = None
        self._busy = False
        self._cancel_after = False  # Cancel pressed (window closed) while a step ran
        self._closing: asyncio.Task[None] | None = None
        fit_to_text(self, 60)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.adjustSize()

    def _show_override(self, shown: bool) -> None:
        self.override_label.setVisible(shown)
        self.override.setVisible(shown)

    def _update_start(self) -> None:
        gate = self._gate
        if self.rental is not None:  # started: nothing more to press
            self.start_button.setEnabled(False)
            return
        if self.check_in is not None:
            self.start_button.setEnabled(not self._busy)
            return
        allowed = gate is not None and gate.allows(self.override.text())
        self.start_button.setEnabled(allowed and not self._busy)

    @asyncSlot()
    async def check(self) -> None:
        try:
            _, gate = await self._rentals.check_gate(self._vehicle_id)
        except RentalError as exc:
            gate = GateResult((str(exc),))
        self._gate = gate
        hard = [p for p in gate.problems if p not in gate.overridable]
        if hard:
            self._say("Cannot start:\n" + "\n".join(f"• {p}" for p in gate.problems))
        elif gate.problems:
            self._say(
                "Needs your judgement:\n"
                + "\n".join(f"• {p}" for p in gate.problems)
                + "\nEverything else (connection, permissions, telemetry) is fine."
            )
        else:
            self._say(
                "Ready: connection, permissions, telemetry and motion are fine."
                + (f"\n{gate.motion}" if gate.motion else "")
            )
        self._show_override(bool(gate.problems) and not hard)
        self.adjustSize()
        self._update_start()

    @asyncSlot()
    async def start(self) -> None:
        self._busy = True
        self.start_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(False)
        self._say("Starting: reading the vehicle and unlocking…")
        try:
            await self._start_or_retry()
        finally:
            self._busy = False
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(True)
            self._update_start()
        if self._cancel_after and self.check_in is not None:
            self.reject()

    async def _start_or_retry(self) -> None:
        try:
            if self.check_in is not None:
                self.rental = await self._rentals.unlock(self.check_in.id)
            else:
                self.rental = await self._rentals.start(
                    self._vehicle_id, self.customer.text(), override_reason=self.override.text()
                )
        except RentalStepFailed as exc:
            pending = parse_state(exc.rental.state) in PRE_ACTIVE
            self.check_in = exc.rental if pending else None
            self.start_button.setText("Retry unlock")
            self._say(f"{exc}\nCancel cancels check-in #{exc.rental.id}.")
            return
        except RentalError as exc:
            self._say(str(exc))
            return
        self.check_in = None
        # Nothing is cancelled any more: "Cancel" would read as cancelling the rental.
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
        self._say(f"Rental #{self.rental.id} is active; the vehicle is unlocked.")
        self.started.emit(self.rental.id)

    def reject(self) -> None:
        """Cancel (or closing the window) cancels a check-in left open, then closes; while
        a step runs, it waits for it (the step may leave a check-in open)."""
        if self._busy:
            self._cancel_after = True
            self._say("Cancelling once the vehicle has answered…")
            return
        self._cancel_after = False
        if self.check_in is None:
            super().reject()
            return
        if self._closing is None or self._closing.done():
            self._closing = asyncio.ensure_future(self._cancel_check_in_and_close())

    async def _cancel_check_in_and_close(self) -> None:
        check_in = self.check_in
        assert check_in is not None
        try:
            await self._rentals.cancel(check_in.id, "start dialog cancelled")
        except (RentalError, ValueError) as exc:
            self._say(f"Check-in #{check_in.id} could not be cancelled: {exc}")
            return
        self.check_in = None
        super().reject()


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
        metrics = self.result_text.fontMetrics()
        self.result_text.setMinimumSize(metrics.averageCharWidth() * 90, metrics.lineSpacing() * 16)
        layout = QVBoxLayout(self)
        layout.addWidget(self.result_text)
        layout.addLayout(row)
        fit_to_text(self, 90)

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

    def __init__(self, rentals: RentalService, exports: Exports, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("rentalsBoard")
        self.setWindowTitle("Rentals")
        self._rentals = rentals
        self._exports = exports
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
        self.confirm: Confirm = ask
        rentals.changes.subscribe(self._changed)

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
        if gone(self):
            return
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

    async def _step(
        self, action: Callable[[int], object], verb: str, rental: RentalRecord | None = None
    ) -> None:
        rental = rental or self._selected_active()
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
        if rental is None:
            return
        if parse_state(rental.state) not in PRE_ACTIVE:
            self.message.setText("An active rental is ended by checking it out, not cancelled.")
            return
        question = (
            f"Cancel the check-in of rental #{rental.id} "
            f"({rental.vehicle_name} [{rental.fleet_number}])? An unlocked vehicle is "
            "locked again. This cannot be undone."
        )
        if not await self.confirm(self, "Cancel check-in", question):
            return
        await self._step(self._rentals.cancel, "cancelled", rental)

    @asyncSlot()
    async def retry_selected(self) -> None:
        await self._step(self._rentals.unlock, "unlocked, rental active")

    @asyncSlot()
    async def export_csv(self, path: Path | None) -> None:
        path = path or await ask_csv_path(self, "rentals.csv")
        if path is None:
            return
        count = await self._exports.rentals(path)
        self.message.setText(f"{count} rentals exported to {path}.")
