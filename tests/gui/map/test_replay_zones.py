"""The route replay's map shows the zones too, read-only (no drawing plugin on it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models.track_queries import Fix, Track
from app.models.zones import ZoneShape
from app.views.replay_map import ReplayMap
from tests.gui.map.test_fleet_map import evaluate
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

ZONES = [
    ZoneShape(1, "Berlin", "service_area", [(13.3, 52.4), (13.5, 52.4), (13.5, 52.6)]),
    ZoneShape(2, "Slow street", "slow", [(13.40, 52.50), (13.41, 52.50), (13.41, 52.51)]),
]


async def test_replay_draws_the_zones_under_the_track_without_tools(qtbot, tile_cache):
    view = ReplayMap(tile_cache, (52.52, 13.405))
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    view.zones.show_zones(ZONES)  # before the page is ready: held back until it is
    await until(lambda: view.is_ready, 20, "the replay page")
    start = datetime.now(UTC)
    fixes = tuple(Fix(start + timedelta(minutes=i), 52.5 + i / 1000, 13.4) for i in range(3))
    view.set_track(Track(1, start, start + timedelta(hours=1), fixes, ((0, 3),), (), ()))
    state = await evaluate(view, "fleetZones.state()")
    assert [(z["id"], z["kind"], z["colour"]) for z in state["zones"]] == [
        (1, "service_area", "#1f6fb2"),
        (2, "slow", "#ef8f00"),
    ]
    assert state["legend"] and state["mode"] == "view"
    assert await evaluate(view, "fleetZones.canDraw()") is False
    assert await evaluate(view, "fleetZones.setMode('draw')") is False  # read-only
    assert view.zones.tools is None
    assert len((await evaluate(view, "routeReplay.state()"))["segments"]) == 1
    assert view.handler.served["failed"] == 0
