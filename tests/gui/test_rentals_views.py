"""Rental dialogs, rentals board, alert inbox and audit view on a demo database.

Vehicle commands are a small in-test implementation of the VehicleCommands protocol
(the Smartcar/IoT ones are covered end to end in tests/integration/services/rentals).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox

from app.config import AlertSettings
from app.models.command_audit import CommandAudit
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.services.alerts.service import AlertService
from app.services.commands.senders import CommandOutcome, LockReading
from app.services.rentals.service import RentalStepFailed
from app.services.wiring.context import AppContext
from tests.helpers.waiting import until


class FakeCommands:
    def __init__(self) -> None:
        self.locked: dict[int, bool] = {}
        self.open_doors: tuple[str, ...] = ()
        self.unlock_error = ""
        self.answer: asyncio.Event | None = None  # set: the "vehicle" answers the unlock
        self.unlocks_sent = 0

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.locked[vehicle_id] = True
        return CommandOutcome(True, "lock", "", LockReading(True, ()))

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.unlocks_sent += 1
        if self.answer is not None:
            await self.answer.wait()
        if self.unlock_error:
            return CommandOutcome(False, "unlock", self.unlock_error)
        self.locked[vehicle_id] = False
        return CommandOutcome(True, "unlock", "", LockReading(False, ()))

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        return LockReading(self.locked.get(vehicle_id), self.open_doors)


def scooter(context):
    rows = context.vehicles.repository.list_rows()
    return next(r for r in rows if r.kind == "scooter" and r.connection_type == "iot")


def report(context, vehicle_id: int, ago_s: float = 0.0, **values) -> None:
    now = datetime.now(UTC) - timedelta(seconds=ago_s)
    TelemetryStore(context.database).write_batch(
        [
            TelemetryReading(
                vehicle_id=vehicle_id, source="iot", recorded_at=now, received_at=now, **values
            )
        ],
        [],
    )


def install(context) -> tuple[FakeCommands, AppContext]:
    """Fake vehicle commands under the console's rental service (its one instance, which
    the window's views hold too)."""
    commands = FakeCommands()
    context.rentals.commands = commands
    context.rentals.operator = "gui-test"
    return commands, context


async def test_start_dialog_blocks_then_starts_and_board_checks_out(window, context):
    commands, _ = install(context)
    row = scooter(context)
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: "Cannot start" in dialog.status.text(), what="gate problems")
    assert "No telemetry" in dialog.status.text() and not dialog.start_button.isEnabled()
    dialog.close()

    # At the demo city's centre: in its "Parking Centre" zone, so the check-out may end.
    report(
        context, row.id, lat=52.52, lon=13.405, speed=0.0, battery=80.0, odometer=120.0, locked=True
    )
    dialog = window.operations.start_rental()
    await until(lambda: dialog.start_button.isEnabled(), what="gate passes")
    dialog.customer.setText("walk-in")
    dialog.start_button.click()
    await until(lambda: dialog.rental is not None, what="rental started")
    assert commands.locked[row.id] is False and "is active" in dialog.status.text()
    closing = dialog.buttons.button(dialog.buttons.StandardButton.Cancel)
    assert closing.text() == "Close"  # nothing left to cancel: the rental runs

    board = window.operations.show_board()
    await until(lambda: board.active.rowCount() == 1, what="active rental on the board")
    assert board.active.item(0, 3).text() == "walk-in"
    board.active.selectRow(0)
    checkout = board.open_checkout()
    commands.open_doors = ("backLeft",)
    checkout.checkout_button.click()
    await until(lambda: "back left door is open" in checkout.result_text.toPlainText(), what="door")
    commands.open_doors = ()
    checkout.checkout_button.click()
    await until(
        lambda: (
            "Total surcharges" in checkout.result_text.toPlainText()
            or "No surcharges" in checkout.result_text.toPlainText()
        ),
        what="receipt",
    )
    await until(
        lambda: board.active.rowCount() == 0 and board.history.rowCount() == 1,
        what="rental moved to history",
    )
    board.history.selectRow(0)
    assert "Rental #" in board.receipt.toPlainText() and "completed" in board.receipt.toPlainText()
    checkout.close()
    board.close()


async def test_alert_inbox_filters_and_acknowledges(window, context):
    install(context)
    no_grace = context.settings.model_copy(update={"alerts": AlertSettings(unlocked_grace_s=0)})
    alerts = AlertService(context.database, no_grace)  # writes what the inbox then reads
    row = scooter(context)
    report(context, row.id, locked=True, battery=50.0)  # seen locked once, then left open
    report(context, row.id, locked=False, battery=5.0)
    await alerts.evaluate([row.id])
    inbox = window.operations.show_alerts()
    await until(lambda: inbox.table.rowCount() == 2, what="two alerts")
    assert inbox.table.item(0, 0).text() == "critical"  # unlocked outside a rental first
    inbox.kind.setCurrentIndex(inbox.kind.findData("low_charge"))
    await until(lambda: inbox.table.rowCount() == 1, what="filtered by kind")
    inbox.table.selectRow(0)
    inbox.ack_button.click()
    await until(
        lambda: inbox.table.item(0, 7) and "gui-test" in inbox.table.item(0, 7).text(),
        what="acknowledged",
    )
    inbox.unacknowledged.setChecked(True)
    await until(lambda: inbox.table.rowCount() == 0, what="acknowledged hidden")
    inbox.close()


async def test_audit_view_lists_filters_and_exports(window, context, tmp_path):
    row = scooter(context)
    audit = CommandAudit(context.database)
    for action in ("unlock", "lock"):
        audit.open(
            vehicle_id=row.id,
            action=action,
            channel="iot",
            actor_user="ann",
            actor_host="desk-1",
            reason="=cmd()",
            at=datetime.now(UTC),
        )
    view = window.operations.show_audit()
    await until(lambda: view.table.rowCount() == 2, what="audit rows")
    view.search.setText("unlock")
    await until(lambda: view.table.rowCount() == 1, what="search")
    assert view.table.item(0, 4).text() == "ann@desk-1"
    target = tmp_path / "audit.csv"
    view.export_csv(target)
    await until(lambda: "exported" in view.message.text(), what="export")
    text = target.read_text()
    assert text.startswith("id,created_at") and "'=cmd()" in text and text.count("\n") == 3
    view.close()


def assert_fits(dialog: QDialog) -> None:
    """Issue #13 item 9: no dialog clips its text."""
    size, hint = dialog.size(), dialog.sizeHint()
    assert size.width() >= hint.width() and size.height() >= hint.height(), (size, hint)
    for label in dialog.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.wordWrap():
            assert label.heightForWidth(label.width()) <= label.height(), label.text()
        else:
            assert label.sizeHint().width() <= label.width(), label.text()


async def test_start_dialog_cancel_leaves_no_open_check_in(window, context):
    """Issue #13 item 8: the unlock failed, the operator pressed Cancel, and the check-in
    stayed open (the car then could not be rented until it expired)."""
    commands, ops = install(context)
    row = scooter(context)
    report(context, row.id, lat=52.5, lon=13.4, speed=0.0, battery=80.0, locked=True)
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: dialog.start_button.isEnabled(), what="gate passes")
    assert_fits(dialog)
    commands.unlock_error = "device did not answer"
    dialog.start_button.click()
    await until(lambda: dialog.check_in is not None, what="unlock failed, check-in open")
    assert "device did not answer" in dialog.status.text()
    assert_fits(dialog)
    [open_] = await ops.rentals.open_rentals()
    dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()
    await until(lambda: not dialog.isVisible(), what="dialog closed")
    assert await ops.rentals.open_rentals() == []
    cancelled = await ops.rentals.get(open_.id)
    assert cancelled.state == "cancelled" and "start dialog cancelled" in cancelled.note


async def test_closing_the_start_dialog_mid_unlock_cancels_the_check_in(window, context):
    commands, ops = install(context)
    row = scooter(context)
    report(context, row.id, lat=52.5, lon=13.4, speed=0.0, battery=80.0, locked=True)
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: dialog.start_button.isEnabled(), what="gate passes")
    commands.answer, commands.unlock_error = asyncio.Event(), "device did not answer"
    dialog.start_button.click()
    await until(lambda: commands.unlocks_sent == 1, what="unlock sent")
    dialog.close()  # the window's close button while the vehicle has not answered
    assert dialog.isVisible() and "Cancelling once" in dialog.status.text()
    commands.answer.set()
    await until(lambda: not dialog.isVisible(), what="dialog closed after cancelling")
    assert await ops.rentals.open_rentals() == []


async def test_motion_unknown_asks_for_an_override_reason(window, context):
    install(context)
    row = scooter(context)
    report(context, row.id, lat=52.5, lon=13.4, battery=80.0, locked=True)  # no speed
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: "Motion unknown" in dialog.status.text(), what="motion unknown")
    assert dialog.override.isVisible() and not dialog.start_button.isEnabled()
    assert_fits(dialog)
    dialog.override.setText("scooter is in the depot rack")
    assert dialog.start_button.isEnabled()
    dialog.start_button.click()
    await until(lambda: dialog.rental is not None, what="rental started")
    assert "scooter is in the depot rack" in dialog.rental.note
    dialog.close()


async def test_a_vehicle_without_speed_parked_for_a_while_is_ready(window, context):
    """No speed reading, but the same position 12 min apart: no reason asked, and the
    dialog says how motion was judged."""
    install(context)
    row = scooter(context)
    report(context, row.id, ago_s=720, lat=52.5, lon=13.4, battery=80.0, locked=True)
    report(context, row.id, lat=52.5, lon=13.4, battery=80.0, locked=True)
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: dialog.start_button.isEnabled(), what="gate passes")
    assert dialog.status.text().startswith("Ready:")
    assert "Parked: same position since" in dialog.status.text()
    assert not dialog.override.isVisible()
    assert_fits(dialog)
    dialog.close()


async def test_cancel_check_in_asks_and_cancel_keeps_it(window, context):
    commands, ops = install(context)
    row = scooter(context)
    report(context, row.id, lat=52.5, lon=13.4, speed=0.0, battery=80.0, locked=True)
    commands.unlock_error = "device did not answer"
    with pytest.raises(RentalStepFailed, match="Unlocking failed"):
        await ops.rentals.start(row.id)
    board = window.operations.show_board()
    await until(lambda: board.active.rowCount() == 1, what="check-in on the board")
    board.active.selectRow(0)

    def question() -> QMessageBox | None:
        box = board.findChild(QMessageBox, "confirmBox")
        return box if box is not None and box.isVisible() else None

    board.cancel_button.click()
    await until(question, what="confirmation asked")
    box = question()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)  # risky
    box.button(QMessageBox.StandardButton.Cancel).click()
    await until(lambda: question() is None, what="question closed")
    [still_open] = await ops.rentals.open_rentals()
    assert still_open.state == "pre_condition_documented"
    board.cancel_button.click()
    await until(question, what="asked again")
    question().button(QMessageBox.StandardButton.Yes).click()
    await until(lambda: "cancelled" in board.message.text(), what="cancelled")
    assert await ops.rentals.open_rentals() == []
    board.close()


async def test_checkout_dialog_fits_its_receipt(window, context):
    _, ops = install(context)
    row = scooter(context)
    report(context, row.id, lat=52.5, lon=13.4, speed=0.0, battery=80.0, locked=True)
    rental = await ops.rentals.start(row.id)
    board = window.operations.show_board()
    await until(lambda: board.active.rowCount() == 1, what="active rental")
    board.active.selectRow(0)
    checkout = board.open_checkout()
    await until(checkout.isVisible, what="check-out dialog shown")
    assert_fits(checkout)
    metrics = checkout.result_text.fontMetrics()
    assert checkout.result_text.width() >= metrics.averageCharWidth() * 80
    assert checkout.result_text.height() >= metrics.lineSpacing() * 12
    assert rental.id
    checkout.close()
    board.close()


async def test_tool_windows_closed_and_deleted_during_a_reload_end_it_quietly(window):
    """Seen in CI: a board deleted while its reload awaited the database raised
    "Internal C++ object already deleted" from the loop into the next test."""
    import shiboken6

    operations = window.operations
    for show in (operations.show_board, operations.show_alerts, operations.show_audit):
        tool = show()
        reloading = tool.reload()
        await asyncio.sleep(0)  # one loop turn: the reload now awaits the database
        shiboken6.delete(tool)
        await reloading  # no RuntimeError out of the deleted window's tables
        assert not shiboken6.isValid(tool)
        again = show()  # opened again: a new window, not the deleted one
        assert shiboken6.isValid(again) and again.isVisible()
        await again.reload()
    window.save_state()  # as at quit: the deleted windows are not asked where they were
