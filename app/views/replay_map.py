"""The route replay's map: a small Leaflet page of its own, served offline via app://.

It reuses map_scheme's handler (Leaflet from the xstatic package, qwebchannel.js from Qt,
tiles from the on-disk cache) but not the live fleet map's page or glue: the replay
draws one track and a cursor, and must not depend on how the fleet map is optimised.
The page side is resources/map/replay.js; the zones are drawn read-only by the fleet
map's zone layer (resources/map/zones.js, without the drawing plugin).
"""

from __future__ import annotations

import json
import logging

from PySide6.QtWidgets import QWidget

from app.models.track_queries import Track
from app.views import map_zones
from app.views.map_host import MapPageView, js_value
from app.views.map_tiles import TileCache

logger = logging.getLogger(__name__)

GLUE_JS = "replay.js"
PAGE = "replay.html"
PAGE_CONFIG = {
    "tileUrl": "tiles://osm/{z}/{x}/{y}.png",
    "trackColour": "#1f6fb2",
    "gapColour": "#8a8f98",
    "cursorColour": "#e53935",
}
_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Route replay</title>
<link rel="stylesheet" href="app://assets/leaflet/leaflet.css">
<style>html, body, #map {{ height: 100%; margin: 0; background: #e9eef2; }}</style>
<script src="app://assets/leaflet/leaflet.js"></script>
<script src="app://assets/qtwebchannel/qwebchannel.js"></script>
<script src="app://page/replay.js"></script>
<script src="app://page/zones.js"></script>
</head><body><div id="map"></div>
<script>routeReplay.init({config}); fleetZones.init(routeReplay.map(), {zones});</script>
</body></html>
"""


def build_page(center: tuple[float, float], zoom: int = 13) -> str:
    config = dict(PAGE_CONFIG, center=list(center), zoom=zoom)
    return _PAGE.format(config=json.dumps(config), zones=json.dumps(map_zones.PAGE_OPTIONS))


class ReplayMap(MapPageView):
    """One track and a cursor on a map, over the zones (``zones.show_zones``, read-only).
    Calls made before the page is ready are queued.

    Signals:
        ready(): the page is loaded and accepts data.
    """

    def __init__(
        self, tiles: TileCache, center: tuple[float, float], parent: QWidget | None = None
    ) -> None:
        super().__init__(
            tiles,
            page=PAGE,
            html=build_page(center),
            script=GLUE_JS,
            extra_scripts=(map_zones.SCRIPT,),
            parent=parent,
        )
        self._pending: list[str] = []
        self.zones = map_zones.ZoneLayer(self, editable=False)

    def set_track(self, track: Track) -> None:
        segments = [
            [[f.lat, f.lon] for f in track.fixes[start:stop]] for start, stop in track.segments
        ]
        self._call(f"routeReplay.setTrack({js_value(segments)})")

    def set_cursor(self, position: tuple[float, float] | None) -> None:
        lat, lon = position if position is not None else (None, None)
        self._call(f"routeReplay.cursor({js_value(lat)}, {js_value(lon)})")

    def _call(self, script: str) -> None:
        if self.is_ready:
            self.run_js(script)
        else:
            self._pending.append(script)

    def _on_ready(self) -> None:
        if self._pending:
            self.run_js(";".join(self._pending))
            self._pending.clear()
        super()._on_ready()
