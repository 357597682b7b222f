"""Rental dialogs, rentals board, alert inbox and audit view on a demo database.

Vehicle commands are a small in-test implementation of the VehicleCommands protocol
(the Smartcar/IoT ones are covered end to end in tests/integration/rentals).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.models.command_audit import CommandAudit
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.services.alert_service import AlertService
from app.services.operations import Operations
from app.services.rentals import RentalService
from app.services.vehicle_commands import CommandOutcome, LockReading
from tests.helpers.waiting import until


class FakeCommands:
    def __init__(self) -> None:
        self.locked: dict[int, bool] = {}
        self.open_doors: tuple[str, ...] = ()

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.locked[vehicle_id] = True
        return CommandOutcome(True, "lock", "", LockReading(True, ()))

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.locked[vehicle_id] = False
        return CommandOutcome(True, "unlock", "", LockReading(False, ()))

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        return LockReading(self.locked.get(vehicle_id), self.open_doors)


def scooter(context):
    rows = context.vehicles.repository.list_rows()
    return next(r for r in rows if r.kind == "scooter" and r.connection_type == "iot")


def report(context, vehicle_id: int, **values) -> None:
    now = datetime.now(UTC)
    TelemetryStore(context.database).write_batch(
        [
            TelemetryReading(
                vehicle_id=vehicle_id, source="iot", recorded_at=now, received_at=now, **values
            )
        ],
        [],
    )


def install(context) -> tuple[FakeCommands, Operations]:
    commands = FakeCommands()
    rentals = RentalService(context.database, context.settings, commands, operator="gui-test")
    context.operations = Operations(rentals, AlertService(context.database, context.settings))
    return commands, context.operations


async def test_start_dialog_blocks_then_starts_and_board_checks_out(window, context):
    commands, _ = install(context)
    row = scooter(context)
    assert window.select_vehicle(row.id)
    dialog = window.operations.start_rental()
    await until(lambda: "Cannot start" in dialog.status.text(), what="gate problems")
    assert "No telemetry" in dialog.status.text() and not dialog.start_button.isEnabled()
    dialog.close()

    report(context, row.id, lat=52.5, lon=13.4, battery=80.0, odometer=120.0, locked=True)
    dialog = window.operations.start_rental()
    await until(lambda: dialog.start_button.isEnabled(), what="gate passes")
    dialog.customer.setText("walk-in")
    dialog.start_button.click()
    await until(lambda: dialog.rental is not None, what="rental started")
    assert commands.locked[row.id] is False and "is active" in dialog.status.text()

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
    _, ops = install(context)
    row = scooter(context)
    report(context, row.id, locked=False, battery=5.0)
    await ops.alerts.evaluate([row.id])
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
