"""The fleet list's "Alerts first" toggle and the Status column's alert marker, and the
Export Vehicle Telemetry dialog, on a demo database."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.views.item_models.vehicle_table_model import Column
from tests.gui.test_rentals_views import report
from tests.helpers.dialog_fakes import answering
from tests.helpers.waiting import until


def names(window) -> list[str]:
    return [window.model.rows[window.model.position_of(i)].name for i in visible(window)]


def visible(window) -> list[int]:
    return window.proxy.visible_vehicle_ids()


def status_cell(window, vehicle_id: int, role=Qt.ItemDataRole.DisplayRole):
    return window.model.index(window.model.position_of(vehicle_id), Column.STATUS).data(role)


async def test_alerts_first_lists_alerting_vehicles_on_top_in_column_order(window, context):
    window.table.sortByColumn(Column.NAME, Qt.SortOrder.DescendingOrder)
    plain = visible(window)
    scooters = [i for i in plain if window.model.rows[window.model.position_of(i)].kind != "car"]
    alerting = scooters[-2:]  # the last two in the list: they must move to the top
    assert window.select_vehicle(plain[3])
    for vehicle_id in alerting:
        report(context, vehicle_id, locked=False, battery=5.0)

    window.alerts_first.setChecked(True)
    first = window.operations.alerts_first
    await until(lambda: first.refreshed >= 1, what="the first read")
    assert visible(window) == plain and status_cell(window, alerting[0]) == "Available"

    await context.alerts.evaluate(alerting)  # the service tells the toggle
    await until(lambda: set(visible(window)[:2]) == set(alerting), what="alerts on top")
    assert visible(window)[:2] == alerting  # the column sort holds within the group
    assert visible(window)[2:] == [i for i in plain if i not in alerting]
    assert window.current_vehicle_id() == plain[3]  # the selection survives the re-order
    assert status_cell(window, alerting[0]).startswith("⚠ ")
    # Low charge (a warning): the unlocked ones were never seen locked, so no alarm there.
    assert "warning" in status_cell(window, alerting[0], Qt.ItemDataRole.ToolTipRole)
    assert not status_cell(window, plain[0]).startswith("⚠")

    window.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    top, rest = names(window)[:2], names(window)[2:]  # a new column sort keeps the partition
    assert set(visible(window)[:2]) == set(alerting) and top == sorted(top, key=str.lower)
    assert rest == sorted(rest, key=str.lower)

    window.alerts_first.setChecked(False)
    assert names(window) == sorted(names(window), key=str.lower)
    assert set(visible(window)[:2]) != set(alerting)
    assert not status_cell(window, alerting[0]).startswith("⚠")
    assert first.refreshed >= 2


def sample(vehicle_id: int, at: datetime, battery: float) -> TelemetryReading:
    return TelemetryReading(
        vehicle_id=vehicle_id, source="iot", recorded_at=at, received_at=at, battery=battery
    )


async def test_export_vehicle_telemetry_for_a_time_range(window, context, tmp_path):
    row = next(r for r in window.model.rows if r.kind != "car")
    now = datetime.now(UTC).replace(microsecond=0)
    TelemetryStore(context.database).write_batch(
        [sample(row.id, now - timedelta(days=d), 90.0 - d) for d in (10, 2, 1)], []
    )
    assert window.operations.export_telemetry() is None  # nothing selected yet
    assert window.select_vehicle(row.id)
    dialog = window.operations.export_telemetry()
    assert row.name in dialog.windowTitle()
    chosen: list[str] = []
    path = tmp_path / "t.csv"
    dialog._ask_path = answering(path, chosen)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    await until(lambda: dialog.exported is not None, what="the default-range export")
    assert dialog.exported == 2 and chosen == [f"telemetry-{row.id}.csv"]
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["battery_pct"]) for r in rows] == [88.0, 89.0]

    dialog.since_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(now.timestamp()) - 30 * 86400))
    dialog.exported = None
    dialog.export(tmp_path / "all.csv")
    await until(lambda: dialog.exported is not None, what="the wider export")
    assert dialog.exported == 3 and "3 samples exported" in dialog.message.text()

    dialog.until_edit.setDateTime(dialog.since_edit.dateTime())
    dialog.export(tmp_path / "none.csv")
    await until(lambda: "after" in dialog.message.text(), what="the range check")
    assert not (tmp_path / "none.csv").exists()
    dialog.close()
