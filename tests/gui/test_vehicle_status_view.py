"""Derived vehicle status reaches the fleet list (coloured dot, stale "last heard") and the
map's colours through the live-update path (issue #13 item 5)."""

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from app.models.enums import VehicleStatus
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.services.alerts.service import AlertService
from app.views import fleet_map
from app.views import formatting as fmt
from app.views.item_models.vehicle_table_model import Column
from app.views.live_updates import LiveUpdates
from tests.helpers.rentals import open_rental
from tests.helpers.waiting import until
from tests.unit.services.alerts.test_alert_service import Clock

pytestmark = pytest.mark.gui


def data(window, vehicle_id, column, role=Qt.ItemDataRole.DisplayRole):
    index = window.proxy.mapFromSource(
        window.model.index(window.model.position_of(vehicle_id), column)
    )
    return index.data(role)


def dot_colour(window, vehicle_id) -> str:
    icon = data(window, vehicle_id, Column.STATUS, Qt.ItemDataRole.DecorationRole)
    return icon.pixmap(12, 12).toImage().pixelColor(6, 6).name()


async def test_offline_and_in_use_show_in_the_list_with_colour_and_stale_mark(window, context):
    clock = Clock()
    started = clock.now = datetime.now(UTC) - timedelta(minutes=10)
    alerts = AlertService(context.database, context.settings, clock=clock)
    clock.now = datetime.now(UTC)  # the console has been listening for 10 min
    live = LiveUpdates(window.fleet, context.vehicles)
    alerts.status_changes.subscribe(live.vehicles_changed)
    scooter = next(r for r in window.model.rows if r.connection_type == "iot")
    heard = started  # device interval 60 s: long overdue
    TelemetryStore(context.database).write_batch(
        [TelemetryReading(scooter.id, "iot", heard, heard, battery=70.0, locked=True)], []
    )
    await alerts.evaluate([scooter.id])
    await until(lambda: data(window, scooter.id, Column.STATUS) == "Offline", what="offline")
    assert dot_colour(window, scooter.id) == fmt.STATUS_COLOURS["offline"]
    font = data(window, scooter.id, Column.LAST_HEARD, Qt.ItemDataRole.FontRole)
    assert font is not None and font.italic()
    tip = data(window, scooter.id, Column.LAST_HEARD, Qt.ItemDataRole.ToolTipRole)
    assert "stale" in tip
    open_rental(context.database, scooter.id)
    await alerts.evaluate([scooter.id])
    await until(lambda: data(window, scooter.id, Column.STATUS) == "In use", what="in use")
    assert dot_colour(window, scooter.id) == fmt.STATUS_COLOURS["in_use"]
    assert data(window, scooter.id, Column.LAST_HEARD, Qt.ItemDataRole.FontRole) is None
    row = window.model.rows[window.model.position_of(scooter.id)]
    assert fleet_map.record_of(row)[4] == "in_use"  # what the map colours by


def test_every_status_has_a_label_and_one_colour_for_list_and_map():
    statuses = {s.value for s in VehicleStatus}
    assert set(fmt.STATUS_LABELS) == statuses == set(fmt.STATUS_COLOURS)
    assert fleet_map.PAGE_CONFIG["statusColours"] is fmt.STATUS_COLOURS
    assert len(set(fmt.STATUS_COLOURS.values())) == len(statuses)
