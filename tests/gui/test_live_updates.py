"""Telemetry committed by the writer shows up in the list and the detail panel by itself."""

import asyncio
from datetime import UTC, datetime

import pytest

from app.models.telemetry_reading import TelemetryReading
from app.services.change_feed import Change
from app.services.telemetry.writer import TelemetryWriter
from app.views.item_models.vehicle_table_model import Column
from app.views.live_updates import LiveUpdates
from app.views.shared_feed import ChangeFeedView
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


async def test_a_burst_of_task_notices_is_one_tasks_re_read(window, monkeypatch):
    """A collector's rule sweep NOTIFYs once per task; the console re-reads its task views
    once per quarter second, not once per notice, and never reloads the fleet for them."""
    re_reads: list[bool] = []
    fleet_reloads: list[bool] = []
    monkeypatch.setattr(window, "reload", lambda: fleet_reloads.append(True))
    feed = ChangeFeedView(window, lambda: re_reads.append(True))
    for vehicle_id in range(50):
        feed.on_change(Change("field_task", vehicle_id))
    await until(lambda: re_reads == [True], 2, "one re-read")
    feed.on_change(Change("field_task", 1))  # a later notice is heard again
    await until(lambda: len(re_reads) == 2, 2, "the next re-read")
    assert feed.received == 51 and fleet_reloads == []
