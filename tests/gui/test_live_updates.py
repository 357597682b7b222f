"""Telemetry committed by the writer shows up in the list and the detail panel by itself."""

import asyncio
from datetime import UTC, datetime

import pytest

from app.models.telemetry_reading import TelemetryReading
from app.services.telemetry.writer import TelemetryWriter
from app.views.item_models.vehicle_table_model import Column
from app.views.live_updates import LiveUpdates
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def cell(window, vehicle_id, column):
    index = window.proxy.mapFromSource(
        window.model.index(window.model.position_of(vehicle_id), column)
    )
    return index.data()


async def test_written_telemetry_refreshes_list_and_detail(window, context):
    writer = TelemetryWriter(context.database)
    live = LiveUpdates(window.fleet, context.vehicles)
    writer.commits.subscribe(live.vehicles_changed)
    scooter = next(r for r in window.model.rows if r.connection_type == "iot")
    window.select_vehicle(scooter.id)
    assert cell(window, scooter.id, Column.ENERGY) == ""
    running = asyncio.ensure_future(writer.run())
    try:
        now = datetime.now(UTC)
        await writer.store(
            [
                TelemetryReading(
                    scooter.id, "iot", now, now, lat=52.51, lon=13.39, battery=64.0, locked=True
                )
            ]
        )
        await until(lambda: cell(window, scooter.id, Column.ENERGY) == "64 %", what="list energy")
        assert cell(window, scooter.id, Column.LOCKED) == "Locked"
        assert cell(window, scooter.id, Column.LAST_HEARD) == "just now"
        assert window.current_vehicle_id() == scooter.id  # the selection survived the update
        assert live.refreshed == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
