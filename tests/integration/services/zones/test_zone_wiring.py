"""The console as the bootstrap builds it in demo mode: demo zones seeded once, and a
position stored by its telemetry writer reaching the zone worker and then the alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.config import Settings
from app.models.telemetry_reading import TelemetryReading
from app.models.zones import ZoneKind
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context

pytestmark = pytest.mark.asyncio


async def test_demo_zones_and_the_telemetry_path_to_a_zone_alert(tmp_path):
    paths = resolve_paths(tmp_path / "data").ensure()
    context = open_context(Settings(), paths)
    try:
        assert context.zones is not None and context.telemetry_writer is not None
        zones = await context.zones.zones()
        assert sorted(z.kind for z in zones).count(ZoneKind.PARKING) == 3
        [no_parking] = [z for z in zones if z.kind == ZoneKind.NO_PARKING]
        centre = no_parking.polygon().centroid
        [vehicle] = [v for v in await context.vehicles.rows() if v.fleet_number == "S-001"]
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(context.telemetry_writer.run()),
            loop.create_task(context.zones.run()),
            loop.create_task(context.alerts.run()),
        ]
        try:
            now = datetime.now(UTC)
            context.telemetry_writer.submit(
                TelemetryReading(vehicle.id, "iot", now, now, lat=centre.y, lon=centre.x, speed=0.0)
            )

            raised = asyncio.Event()

            async def look() -> None:  # the inbox, each time the alert rules changed it
                alerts = await context.alerts.inbox(kind="in_no_parking_zone")
                if any(a.vehicle_id == vehicle.id for a in alerts):
                    raised.set()

            looks: list[asyncio.Task] = []
            stop = context.alerts.changes.subscribe(lambda: looks.append(loop.create_task(look())))
            await asyncio.wait_for(raised.wait(), 20)
            stop()
            await asyncio.gather(*looks)
            assert ("enter", no_parking.name) in [
                (event, name) for _, event, name in context.zones.repository.events(vehicle.id)
            ]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        context.close()
    again = open_context(Settings(), paths)  # a second demo start seeds nothing more
    try:
        assert len(await again.zones.zones()) == len(zones)  # type: ignore[union-attr]
    finally:
        again.close()
