"""The live fleet map: a Leaflet page loaded once, then fed positions, never reloaded.

The page is built with folium at start (assets and tiles come through map_scheme's URL
schemes, so it works offline). After that Python only pushes data: changed vehicles are
collected and sent a few times per second (``FLUSH_MS``), so 10,000 vehicles reporting
at once cost a handful of JS calls, not 10,000. Marker clicks come back through a
QWebChannel object. See resources/map/fleet_map.js for the page side, including why it
clusters on its own grid instead of using leaflet.markercluster (moving 10,000 vehicles:
~1.3 s with the plugin's per-marker re-indexing, well under 250 ms with the grid).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.models.vehicles import VehicleRow
from app.views import formatting as fmt
from app.views import map_zones
from app.views.map_host import MapPageView, PageBridge, js_value
from app.views.map_scheme import GEOMAN_JS, drawing_unavailable
from app.views.map_tiles import TileCache

logger = logging.getLogger(__name__)

GLUE_JS = "fleet_map.js"  # below resources/map/ (checkout or frozen bundle)
PAGE = "map.html"
TILE_URL = "tiles://osm/{z}/{x}/{y}.png"
FLUSH_MS = 250  # at most four pushes per second, however many vehicles report
STATUS_COLOURS = fmt.STATUS_COLOURS  # one mapping for the list and the map
PAGE_CONFIG = {
    "statusColours": STATUS_COLOURS,
    "unknownColour": "#8a8f98",
    "carRadius": 8,  # cars: bigger circles with a dark rim ...
    "carBorder": "#1b1b1b",
    "smallRadius": 5,  # ... scooters and e-bikes: small circles with a white rim
    "smallBorder": "#ffffff",
    "highlightBorder": "#e53935",
    "unclusterZoom": 16,
}

Record = list[Any]


def record_of(row: VehicleRow) -> Record:
    """What the page needs of one vehicle: [id, lat, lon, kind, status, label]."""
    label = html.escape(f"{row.name} [{row.fleet_number}]")  # tooltips are HTML
    return [row.id, row.latitude, row.longitude, row.kind, row.status, label]


def build_page(center: tuple[float, float], zoom: int = 12) -> str:
    """The map page: Leaflet, the QWebChannel client, our glue (which clusters) and the
    zone layer; Leaflet-Geoman (drawing zones) only when it is installed, so a missing
    plugin costs the drawing tools and nothing else."""
    fmap = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True)
    drawing = drawing_unavailable() is None
    fmap.default_js = [
        ("leaflet", "app://assets/leaflet/leaflet.js"),
        *([("geoman", f"app://assets/geoman/{GEOMAN_JS}")] if drawing else []),
        ("qwebchannel", "app://assets/qtwebchannel/qwebchannel.js"),
        ("fleet_map", "app://page/fleet_map.js"),
        ("zones", f"app://page/{map_zones.SCRIPT}"),
    ]
    fmap.default_css = [
        ("leaflet_css", "app://assets/leaflet/leaflet.css"),
        *([("geoman_css", "app://assets/geoman/leaflet-geoman.css")] if drawing else []),
    ]
    folium.TileLayer(
        TILE_URL, attr="&copy; OpenStreetMap contributors", max_zoom=19, name="OpenStreetMap"
    ).add_to(fmap)
    _GlueInit().add_to(fmap)
    return fmap.get_root().render()


class _GlueInit(MacroElement):
    """Hands the folium-made Leaflet map to our glue, after the map exists on the page."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "fleetMap.init({{ this._parent.get_name() }}, {{ this.config }});"
        "fleetZones.init({{ this._parent.get_name() }}, "
        "Object.assign({{ this.zones }}, {renderer: fleetMap.renderer()}));"
        "{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()
        self.config = json.dumps(PAGE_CONFIG)
        self.zones = json.dumps(map_zones.PAGE_OPTIONS)


class MapBridge(PageBridge):
    """The object the page talks to (``bridge`` in JS): page ready, clicks, frames shown."""

    clicked = Signal(int)
    painted = Signal(str)

    @Slot(int)
    def markerClicked(self, vehicle_id: int) -> None:
        self.clicked.emit(vehicle_id)

    @Slot(str)
    def frameShown(self, token: str) -> None:
        self.painted.emit(token)


class FleetMapView(MapPageView):
    """Every vehicle on one map.

    ``zones`` (a :class:`~app.views.map_zones.ZoneLayer`) draws the zones and carries
    the tools to draw, edit and delete them, with their signals.

    Signals:
        vehicle_clicked(int): a marker was clicked.
        ready(): the page is loaded and accepts data.
        painted(str): a token given to ``flush(token)`` is on screen.
    """

    vehicle_clicked = Signal(int)
    painted = Signal(str)
    bridge: MapBridge

    def __init__(
        self, tiles: TileCache, center: tuple[float, float], parent: QWidget | None = None
    ) -> None:
        super().__init__(
            tiles,
            page=PAGE,
            html=build_page(center),
            script=GLUE_JS,
            bridge=MapBridge,
            extra_scripts=(map_zones.SCRIPT,),
            parent=parent,
        )
        self.setObjectName("fleetMap")
        self.zones = map_zones.ZoneLayer(self, editable=True)
        layout = self.layout()
        if self.zones.tools is not None and isinstance(layout, QVBoxLayout):
            layout.insertWidget(0, self.zones.tools)
        self._full: dict[int, Record] | None = None
        self._changed: dict[int, Record] = {}
        self._gone: set[int] = set()
        self._focus: int | None = None
        self._only: frozenset[int] | None = None  # show only these (None: every vehicle)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        self.bridge.clicked.connect(self.vehicle_clicked)
        self.bridge.painted.connect(self.painted)

    # Data in ------------------------------------------------------------------------
    def set_only(self, vehicle_ids: frozenset[int] | None, rows: Iterable[VehicleRow]) -> None:
        """Show only ``vehicle_ids`` of the fleet ``rows`` from now on (None: all of them),
        e.g. the vehicles with open tasks."""
        self._only = vehicle_ids
        self.set_rows(rows)

    def _shown(self, vehicle_id: int) -> bool:
        return self._only is None or vehicle_id in self._only

    def set_rows(self, rows: Iterable[VehicleRow]) -> None:
        """The whole fleet (after a reload): vehicles not in ``rows`` leave the map."""
        self._full = {row.id: record_of(row) for row in rows if self._shown(row.id)}
        self._changed.clear()
        self._gone.clear()
        self._schedule()

    def update_rows(self, rows: Iterable[VehicleRow]) -> None:
        """Changed or new vehicles; sent with the next coalesced push."""
        for row in rows:
            if not self._shown(row.id):
                self.remove((row.id,))
                continue
            record = record_of(row)
            if self._full is not None:
                self._full[row.id] = record
            else:
                self._changed[row.id] = record
                self._gone.discard(row.id)
        self._schedule()

    def remove(self, vehicle_ids: Iterable[int]) -> None:
        for vehicle_id in vehicle_ids:
            if self._full is not None:
                self._full.pop(vehicle_id, None)
            else:
                self._changed.pop(vehicle_id, None)
                self._gone.add(vehicle_id)
        self._schedule()

    def focus(self, vehicle_id: int | None) -> None:
        """Follow the list's selection: a new one is highlighted and centred on once;
        ``None`` releases it. Repeating the current selection changes nothing, so the
        view stays wherever the user has zoomed or dragged it since."""
        if vehicle_id == self._focus:
            return
        self._focus = vehicle_id
        if self.is_ready:
            self._send_focus()

    def _send_focus(self) -> None:
        target = "null" if self._focus is None else str(int(self._focus))
        self.run_js(f"fleetMap.focus({target})")

    def _schedule(self) -> None:
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self, token: str = "") -> None:
        """Send what changed now; with ``token``, ``painted(token)`` follows on screen."""
        self._flush_timer.stop()
        if not self.is_ready:
            return  # _on_ready flushes
        calls = []
        if self._full is not None:
            calls.append(f"fleetMap.set({js_value(list(self._full.values()))})")
            self._full = None
        if self._changed or self._gone:
            changed, gone = list(self._changed.values()), sorted(self._gone)
            calls.append(f"fleetMap.update({js_value(changed)}, {js_value(gone)})")
            self._changed.clear()
            self._gone.clear()
        if token:
            calls.append(f"fleetMap.painted({json.dumps(token)})")
        if calls:
            self.run_js(";".join(calls))

    # Page ---------------------------------------------------------------------------
    def _on_ready(self) -> None:
        super()._on_ready()
        self.flush()
        if self._focus is not None:
            self._send_focus()
