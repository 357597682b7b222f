"""The fleet map in a real QtWebEngine view, offline: markers, moves, clicks, selection."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from app.models.vehicles import VehicleRow
from app.views.fleet_map import FleetMapView
from tests.gui.telemetry_data import reading, store
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def row(vehicle_id: int, lat: float | None, lon: float | None, **changes) -> VehicleRow:
    base = VehicleRow(
        vehicle_id, f"V<{vehicle_id}>", f"F-{vehicle_id}", "car", "Make", "Model", None, None,
        None, "", None, "none", None, None, "available", 50.0, None, 100.0, True, lat, lon,
        datetime.now(UTC), False,
    )  # fmt: skip
    return base._replace(**changes)


async def evaluate(view: FleetMapView, script: str):
    """The JSON value of ``script`` (JSON both ways keeps JS objects intact)."""
    future = asyncio.get_running_loop().create_future()
    view.run_js(
        f"JSON.stringify({script})", lambda result: future.done() or future.set_result(result)
    )
    return json.loads(await asyncio.wait_for(future, 10))


async def painted(view: FleetMapView, token: str) -> None:
    seen: list[str] = []
    view.painted.connect(seen.append)
    view.flush(token)
    await until(lambda: token in seen, 10, f"frame {token}")


@pytest.fixture
def map_view(qtbot, tile_cache):
    view = FleetMapView(tile_cache, (52.52, 13.405))
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    return view


async def test_page_loads_offline_and_markers_move_without_reload(map_view):
    await until(lambda: map_view.is_ready, 20, "the map page")
    assert await evaluate(map_view, "L.version") == "1.9.3"
    rows = [row(i, 52.50 + i / 100, 13.40 + i / 100) for i in range(1, 6)]
    map_view.set_rows([*rows, row(6, None, None)])  # no position yet: no marker
    await painted(map_view, "first")
    positions = await evaluate(map_view, "fleetMap.positions()")
    assert sorted(positions) == ["1", "2", "3", "4", "5"]
    assert positions["3"][:2] == pytest.approx([52.53, 13.43])
    assert positions["1"][2] == "#2e9d4f" and positions["1"][3] == 8  # available car

    marker_layer = await evaluate(map_view, "String(fleetMap.map()._leaflet_id)")
    map_view.update_rows([row(3, 52.6, 13.5, status="maintenance", kind="scooter")])
    map_view.remove([5])
    await painted(map_view, "second")
    positions = await evaluate(map_view, "fleetMap.positions()")
    assert sorted(positions) == ["1", "2", "3", "4"]
    assert positions["3"] == [52.6, 13.5, "#d98a00", 5]
    # Same Leaflet map object: the page was updated in place, not reloaded.
    assert await evaluate(map_view, "String(fleetMap.map()._leaflet_id)") == marker_layer
    assert map_view.handler.served["failed"] == 0
    assert map_view.handler.served["placeholders"] > 0  # no cache, no network: blank tiles


async def test_cached_tiles_are_served_and_tooltips_are_escaped(map_view, tile_cache):
    z, x, y = 12, 2200, 1343  # central Berlin
    target = tile_cache.root / "osm" / str(z) / str(x) / f"{y}.png"
    target.parent.mkdir(parents=True)
    target.write_bytes(map_view.handler._placeholder)
    await until(lambda: map_view.is_ready, 20, "the map page")
    map_view.set_rows([row(1, 52.52, 13.405)])
    await painted(map_view, "t")
    assert map_view.handler.served["tiles"] >= 1
    tooltip = await evaluate(map_view, "fleetMap.vehicleMarkers()[0].getTooltip().getContent()")
    assert tooltip == "V&lt;1&gt; [F-1]"


@pytest.fixture
def window_context(context):
    """``window`` (tests/gui/conftest.py) opens with every demo vehicle placed on the map."""
    now = datetime.now(UTC)
    ids = context.vehicles.repository.list_rows(include_archived=False)
    store(context, [reading(r.id, now, lat=52.5 + r.id / 500, lon=13.4) for r in ids])
    return context


async def test_map_tab_follows_the_list_and_selects_on_click(window):
    win = window
    views = win.telemetry_views
    assert views.map is None  # not built until the tab is opened
    views.left_tabs.setCurrentIndex(1)
    fleet_map = views.map
    assert fleet_map is not None
    await until(lambda: fleet_map.is_ready, 20, "the map page")
    total = win.model.rowCount()
    await until(lambda: fleet_map._full is None, 5, "the first push")
    await painted(fleet_map, "all")
    assert await evaluate(fleet_map, "fleetMap.count()") == total

    target = win.model.rows[3]
    await evaluate(
        fleet_map,
        f"(fleetMap.vehicleMarkers().find(m => m.vehicleId === {target.id}).fire('click'), true)",
    )
    await until(lambda: win.current_vehicle_id() == target.id, 5, "the clicked row")
    await until(lambda: fleet_map._focus == target.id, 5, "focus")
    other = win.model.rows[5]
    win.select_vehicle(other.id)
    highlighted = None

    async def read_highlight() -> None:
        nonlocal highlighted
        highlighted = await evaluate(fleet_map, "fleetMap.highlightedId()")

    async def highlighted_other() -> bool:
        await read_highlight()
        return highlighted == other.id

    for _ in range(50):
        if await highlighted_other():
            break
        await asyncio.sleep(0.05)
    assert highlighted == other.id

    win.refresh_vehicle(other._replace(latitude=52.7, longitude=13.7))
    await until(lambda: fleet_map._changed == {} and fleet_map._full is None, 5, "the push")
    await painted(fleet_map, "moved")
    positions = await evaluate(fleet_map, "fleetMap.positions()")
    assert positions[str(other.id)][:2] == [52.7, 13.7]


async def map_view_of(view: FleetMapView) -> dict:
    """Zoom and centre of the page's Leaflet map."""
    return await evaluate(
        view,
        "{zoom: fleetMap.map().getZoom(), lat: fleetMap.map().getCenter().lat, "
        "lng: fleetMap.map().getCenter().lng}",
    )


async def test_selection_centres_once_then_the_view_stays_where_the_user_put_it(window):
    win = window
    views = win.telemetry_views
    views.left_tabs.setCurrentIndex(1)
    fleet_map = views.map
    await until(lambda: fleet_map.is_ready, 20, "the map page")
    await until(lambda: fleet_map._full is None, 5, "the first push")
    await painted(fleet_map, "all")
    target = win.model.rows[2]
    win.select_vehicle(target.id)
    await painted(fleet_map, "selected")
    view = await map_view_of(fleet_map)
    assert view["zoom"] >= 16  # a new selection: centred on, close enough to see it
    assert [view["lat"], view["lng"]] == pytest.approx([target.latitude, target.longitude])

    await evaluate(fleet_map, "(fleetMap.map().setView([52.51, 13.4], 11, {animate: false}), 1)")
    overview = await map_view_of(fleet_map)
    assert overview["zoom"] == 11
    for step in range(4):  # data pushes, the selected vehicle among them
        moved = [r._replace(latitude=r.latitude + 0.001 * step) for r in win.model.rows[:6]]
        for changed in moved:
            win.refresh_vehicle(changed)
        await until(lambda: fleet_map._changed == {}, 5, "the push")
        await painted(fleet_map, f"push {step}")
        assert await map_view_of(fleet_map) == overview
    assert await evaluate(fleet_map, "fleetMap.highlightedId()") == target.id
    assert sum(await evaluate(fleet_map, "fleetMap.clusterCounts()")) > 1  # clusters shown

    # A status change in a push re-colours the marker (and keeps the view).
    current = win.model.rows[win.model.position_of(target.id)]
    win.refresh_vehicle(current._replace(status="maintenance"))
    await until(lambda: fleet_map._changed == {}, 5, "the push")
    await painted(fleet_map, "status")
    positions = await evaluate(fleet_map, "fleetMap.positions()")
    assert positions[str(target.id)][2] == "#d98a00"
    assert await map_view_of(fleet_map) == overview

    # A search that hides the selection releases it; the view still does not move.
    win.search.setText("no vehicle is called this")
    await until(lambda: fleet_map._focus is None, 5, "the released selection")
    await painted(fleet_map, "hidden")
    assert await evaluate(fleet_map, "fleetMap.highlightedId()") is None
    assert await map_view_of(fleet_map) == overview
