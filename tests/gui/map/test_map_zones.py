"""Zones on the fleet map in a real QtWebEngine view, drawn and edited through the real
Leaflet-Geoman plugin (served offline from web/node_modules)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from app.models.roles import SignedIn
from app.models.zones import ZoneShape
from app.services.access import Access, Capability
from app.views import map_scheme
from app.views.fleet_map import FleetMapView
from app.views.map_zones import ZoneDialog
from tests.gui.map.test_fleet_map import evaluate, painted, row
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

PARK = ZoneShape(7, "Park <A>", "parking", [(13.40, 52.50), (13.42, 52.50), (13.41, 52.52)])
AREA = ZoneShape(
    8, "Berlin", "service_area", [(13.30, 52.40), (13.50, 52.40), (13.50, 52.60), (13.30, 52.60)]
)
NO_PARK = ZoneShape(9, "Square", "no_parking", [(13.43, 52.50), (13.44, 52.50), (13.44, 52.51)])


@pytest.fixture
def map_view(qtbot, tile_cache):
    view = FleetMapView(tile_cache, (52.52, 13.405))
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    return view


async def ready(view: FleetMapView) -> None:
    await until(lambda: view.is_ready, 20, "the map page")


async def zone_state(view: FleetMapView) -> dict:
    return await evaluate(view, "fleetZones.state()")


async def polygons_on_map(view: FleetMapView) -> int:
    return await evaluate(
        view,
        "(() => { let n = 0; fleetMap.map().eachLayer(l => { if (l instanceof L.Polygon) n++; });"
        " return n; })()",
    )


async def pointer(view: FleetMapView, kind: str, lat: float, lon: float) -> None:
    """A real DOM mouse event at the point, sent to whatever element is on top there."""
    assert await evaluate(
        view,
        f"""(() => {{ const map = fleetMap.map();
        const p = map.latLngToContainerPoint([{lat}, {lon}]);
        const box = map.getContainer().getBoundingClientRect();
        const x = box.left + p.x, y = box.top + p.y;
        const target = document.elementFromPoint(x, y);
        document.elementFromPoint(x, y).dispatchEvent(
            new MouseEvent('{kind}', {{clientX: x, clientY: y, bubbles: true}}));
        return true; }})()""",
    )


def flat(ring: list[tuple[float, float]]) -> list[float]:
    return [value for point in ring for value in point]


def open_dialog(kind: type):
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, kind) and widget.isVisible():
            return widget
    return None


async def test_zones_are_drawn_by_kind_with_names_and_a_legend_and_can_be_hidden(map_view):
    await ready(map_view)
    map_view.set_rows([row(1, 52.505, 13.41)])
    map_view.zones.show_zones([PARK, AREA, NO_PARK])
    await painted(map_view, "zones")
    state = await zone_state(map_view)
    assert {z["id"]: z["colour"] for z in state["zones"]} == {
        7: "#2e7d32",
        8: "#1f6fb2",
        9: "#c62828",
    }
    park = next(z for z in state["zones"] if z["id"] == 7)
    assert park["tooltip"] == "Park &lt;A&gt;"  # tooltips are HTML: names are escaped
    assert park["ring"] == [list(p) for p in PARK.ring]
    assert state["legend"] and state["visible"]
    assert await polygons_on_map(map_view) == 3
    legend = await evaluate(
        map_view,
        "Array.from(document.querySelectorAll('.fleet-zone-legend div'), d => d.textContent)",
    )
    assert legend == ["Service area", "Parking", "No parking", "Slow zone"]
    # The vehicle inside the park still renders and is still clicked, above the zone.
    assert sorted(await evaluate(map_view, "fleetMap.positions()")) == ["1"]

    map_view.zones.tools.show_action.trigger()  # the "Zones" toggle: hide
    await painted(map_view, "hidden")
    assert await polygons_on_map(map_view) == 0
    assert not (await zone_state(map_view))["legend"]
    map_view.zones.tools.show_action.trigger()
    await painted(map_view, "shown")
    assert await polygons_on_map(map_view) == 3

    map_view.zones.show_zones([AREA])  # the owner's new list replaces the old one
    await painted(map_view, "one")
    assert await polygons_on_map(map_view) == 1


async def test_a_polygon_drawn_with_the_plugin_is_named_then_emitted(map_view):
    await ready(map_view)
    assert await evaluate(map_view, "fleetZones.canDraw()") is True
    drawn: list[tuple] = []
    map_view.zones.zone_drawn.connect(lambda *args: drawn.append(args))
    map_view.zones.tools.mode_actions["draw"].trigger()
    assert (await zone_state(map_view))["mode"] == "draw"
    corners = [(52.50, 13.40), (52.50, 13.43), (52.52, 13.415)]
    clicks = "".join(
        f"fleetMap.map().fire('click', {{latlng: L.latLng({lat}, {lon})}});"
        for lat, lon in [*corners, corners[0]]  # the first corner again closes the shape
    )
    assert await evaluate(map_view, f"(() => {{ {clicks} return true; }})()")
    await until(lambda: open_dialog(ZoneDialog) is not None, 10, "the zone dialog")
    dialog = open_dialog(ZoneDialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no name yet
    dialog.name.setText("  Depot lot ")
    dialog.kind.setCurrentIndex(dialog.kind.findData("slow"))
    ok.click()
    await until(lambda: drawn, 10, "zone_drawn")
    name, kind, ring = drawn[0]
    assert (name, kind) == ("Depot lot", "slow")
    assert flat(ring) == pytest.approx(flat([(lon, lat) for lat, lon in corners]))
    assert await polygons_on_map(map_view) == 0  # not kept: the owner shows it once saved
    await until(lambda: not map_view.zones.tools.mode_actions["draw"].isChecked(), 5, "mode")


async def test_a_cancelled_dialog_emits_nothing(map_view):
    await ready(map_view)
    drawn: list[tuple] = []
    map_view.zones.zone_drawn.connect(lambda *args: drawn.append(args))
    map_view.zones.bridge.zoneDrawn("[[13.4, 52.5], [13.5, 52.5], [13.45, 52.6]]")
    await until(lambda: open_dialog(ZoneDialog) is not None, 10, "the zone dialog")
    open_dialog(ZoneDialog).reject()
    await until(lambda: open_dialog(ZoneDialog) is None, 5, "closed")
    assert drawn == []


async def test_vertices_edited_with_the_plugin_and_a_confirmed_delete_are_emitted(map_view):
    await ready(map_view)
    map_view.zones.show_zones([PARK, NO_PARK])
    edited: list[tuple] = []
    deleted: list[int] = []
    map_view.zones.zone_edited.connect(lambda *args: edited.append(args))
    map_view.zones.zone_deleted.connect(deleted.append)
    map_view.zones.tools.mode_actions["edit"].trigger()
    # Drag the park's first corner through the plugin's own vertex marker.
    assert (await zone_state(map_view))["mode"] == "edit"
    await evaluate(
        map_view,
        "(() => { const p = fleetZones.polygon(7); const m = p.pm._markers[0][0];"
        " m.fire('dragstart'); m.setLatLng(L.latLng(52.49, 13.39)); m.fire('drag');"
        " m.fire('dragend'); return true; })()",
    )
    await until(lambda: edited, 10, "zone_edited")
    zone_id, ring = edited[-1]
    assert zone_id == 7
    assert flat(ring) == pytest.approx(flat([(13.39, 52.49), *PARK.ring[1:]]))
    handles = "document.querySelectorAll('.leaflet-marker-pane .marker-icon').length"
    assert await evaluate(map_view, handles) == len(PARK.ring) * 2 + len(NO_PARK.ring) * 2
    map_view.zones.tools.show_action.trigger()  # hidden while editing: no handles left
    assert await evaluate(map_view, handles) == 0
    map_view.zones.tools.show_action.trigger()
    assert await evaluate(map_view, "fleetZones.polygon(7).pm.enabled()") is True
    # Vehicles are not the plugin's: no vertex handles on them, none on other modes.
    map_view.set_rows([row(1, 52.505, 13.41)])
    await painted(map_view, "vehicles")
    assert await evaluate(map_view, "fleetMap.vehicleMarkers().every(m => !m.pm)") is True

    map_view.zones.tools.mode_actions["delete"].trigger()
    assert await evaluate(map_view, "fleetZones.polygon(7).pm.enabled()") is False

    async def click_zone(zone_id: int) -> None:
        await evaluate(map_view, f"(fleetZones.polygon({zone_id}).fire('click'), true)")
        await until(lambda: open_dialog(QMessageBox) is not None, 10, "the confirmation")

    await click_zone(9)
    box = open_dialog(QMessageBox)
    assert "Square" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    await until(lambda: open_dialog(QMessageBox) is None, 5, "closed")
    assert deleted == []
    await click_zone(9)
    open_dialog(QMessageBox).button(QMessageBox.StandardButton.Yes).click()
    await until(lambda: deleted == [9], 10, "zone_deleted")


async def test_the_pointer_finds_a_vehicle_inside_a_zone_first_and_the_zone_around_it_second(
    map_view,
):
    """Real DOM events where the operator points: the shared canvas hit-tests in drawing
    order, so the vehicle takes the click and the zone shows its name around it."""
    await ready(map_view)
    map_view.set_rows([row(1, 52.505, 13.41)])  # inside the park
    map_view.zones.show_zones([PARK, AREA, NO_PARK])
    await painted(map_view, "zones")  # the first push fits the map to the vehicle: then
    await evaluate(map_view, "(fleetMap.map().setView([52.505, 13.42], 14, {animate: false}), 1)")
    clicked: list[int] = []
    map_view.vehicle_clicked.connect(clicked.append)
    map_view.zones.tools.mode_actions["delete"].trigger()

    await pointer(map_view, "mousemove", 52.503, 13.437)  # the square, no vehicle there
    assert await evaluate(map_view, "fleetZones.polygon(9).isTooltipOpen()") is True
    await pointer(map_view, "click", 52.503, 13.437)
    await until(lambda: open_dialog(QMessageBox) is not None, 10, "the confirmation")
    open_dialog(QMessageBox).button(QMessageBox.StandardButton.Cancel).click()
    await until(lambda: open_dialog(QMessageBox) is None, 5, "closed")
    await pointer(map_view, "click", 52.505, 13.41)  # the vehicle inside the park
    await until(lambda: clicked == [1], 10, "the vehicle's click")
    assert open_dialog(QMessageBox) is None  # the vehicle took it, not the park


async def test_a_viewer_gets_the_zones_but_not_the_tools_and_is_told_why(map_view):
    await ready(map_view)
    reason = Access(SignedIn("vic", "viewer")).refusal(Capability.ZONES)
    assert reason is not None
    tools = map_view.zones.tools
    tools.mode_actions["edit"].trigger()
    map_view.zones.set_refusal(reason)
    assert not any(a.isEnabled() for a in tools.mode_actions.values())
    assert not any(a.isChecked() for a in tools.mode_actions.values())
    assert tools.reason.text() == reason and "Fleet manager" in reason
    assert tools.mode_actions["draw"].toolTip() == reason
    assert tools.show_action.isEnabled()  # looking at zones is for everyone
    map_view.zones.show_zones([PARK])
    await painted(map_view, "zones")
    assert await polygons_on_map(map_view) == 1
    assert (await zone_state(map_view))["mode"] == "view"
    map_view.zones.set_refusal(None)
    assert all(a.isEnabled() for a in tools.mode_actions.values())


async def test_without_the_plugin_the_map_and_zones_work_and_the_tools_say_why(
    qtbot, tile_cache, tmp_path, monkeypatch
):
    monkeypatch.setitem(map_scheme.ASSET_DIRS, "geoman", tmp_path / "not-installed")
    view = FleetMapView(tile_cache, (52.52, 13.405))
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    await ready(view)
    view.set_rows([row(1, 52.50, 13.40), row(2, 52.51, 13.41)])
    view.zones.show_zones([PARK])
    await painted(view, "first")
    assert sorted(await evaluate(view, "fleetMap.positions()")) == ["1", "2"]
    assert await polygons_on_map(view) == 1
    assert await evaluate(view, "typeof L.PM") == "undefined"
    tools = view.zones.tools
    assert not any(a.isEnabled() for a in tools.mode_actions.values())
    assert "Leaflet-Geoman plugin is not installed" in tools.reason.text()
    assert "not-installed" in tools.reason.text()
    assert view.handler.served["failed"] == 0  # no request for the missing files
