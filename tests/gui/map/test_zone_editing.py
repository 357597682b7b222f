"""The console's fleet map and its zone service together: the demo zones are drawn from
the database, a drawn zone is stored, a shape the service refuses is not stored and the
reason reaches the status bar, a delete removes it; the real QtWebEngine page throughout."""

from __future__ import annotations

import pytest

from tests.gui.map.test_map_zones import polygons_on_map, ready
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

CROSSED = [(13.40, 52.50), (13.42, 52.52), (13.42, 52.50), (13.40, 52.52)]  # a bow tie
SQUARE = [(13.41, 52.515), (13.412, 52.515), (13.412, 52.517), (13.41, 52.517)]


async def test_zones_drawn_on_the_map_are_stored_and_refused_shapes_are_not(window, context):
    views = window.telemetry_views
    views.left_tabs.setCurrentIndex(1)
    fleet_map = views.ensure_map()
    await ready(fleet_map)
    stored = await context.zones.zones()
    assert stored, "demo mode seeds its zones"
    await until(lambda: len(fleet_map.zones.shapes) == len(stored), what="the stored zones")
    assert fleet_map.zones.tools is not None and fleet_map.zones.tools.isEnabled()

    fleet_map.zones.zone_drawn.emit("Bow tie", "parking", CROSSED)
    await until(lambda: "Zone not saved" in window.statusBar().currentMessage(), what="refusal")
    assert "crosses itself" in window.statusBar().currentMessage()
    assert len(await context.zones.zones()) == len(stored)

    fleet_map.zones.zone_drawn.emit("Depot yard", "parking", SQUARE)
    await until(
        lambda: any(s.name == "Depot yard" for s in fleet_map.zones.shapes), what="the new zone"
    )
    assert window.statusBar().currentMessage() == "Zone Depot yard saved"
    assert await polygons_on_map(fleet_map) >= len(stored) + 1
    [yard] = [s for s in await context.zones.zones() if s.name == "Depot yard"]
    assert yard.ring == SQUARE

    fleet_map.zones.zone_deleted.emit(yard.id)
    await until(lambda: all(s.name != "Depot yard" for s in fleet_map.zones.shapes), what="deleted")
    assert len(await context.zones.zones()) == len(stored)
