"""The status bar says when telemetry cannot be stored, and hides that when all is well."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.models.database import Database, sqlite_url
from app.models.telemetry_reading import TelemetryReading
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.telemetry.writer import TelemetryWriter
from app.views.storage_status import StorageStatusLabel
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@pytest.mark.expect_log(
    "app.services.telemetry.writer",
    r"storing telemetry failed, will retry: \(sqlite",
    level="ERROR",
)
async def test_a_refusing_database_shows_in_the_status_bar(window, tmp_path):
    shown = window.statusBar().findChild(StorageStatusLabel)
    assert shown is not None
    shown.refresh()
    assert not shown.isVisible()  # the console's own writer stores fine
    # A database that refuses every write (query_only), for real: the writer keeps retrying.
    refusing = Database(sqlite_url(tmp_path / "refusing.sqlite"))
    refusing.migrate()
    (vehicle_id,) = VehicleRepository(refusing).add_many(
        [VehicleFields(name="Car 1", fleet_number="C-001", kind="car")]
    )
    refusing.close()
    refusing = Database(sqlite_url(tmp_path / "refusing.sqlite"), read_only=True)
    writer = TelemetryWriter(refusing, retry_initial_s=0.01, retry_max_s=0.02)
    task = asyncio.get_running_loop().create_task(writer.run())
    label = StorageStatusLabel(writer)
    window.statusBar().addPermanentWidget(label)
    try:
        now = datetime.now(UTC)
        writer.submit(TelemetryReading(vehicle_id, "iot", now, now, battery=50.0))
        await until(lambda: writer.health.attempts >= 2, what="failed writes")
        label.refresh()
        assert label.isVisible()
        assert label.text().startswith("Storage: OperationalError")
        assert "1 waiting, retrying every" in label.text()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        refusing.close()
    shown.refresh()
    assert not shown.isVisible()
