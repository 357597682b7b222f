"""The route replay's map: a small Leaflet page of its own, served offline via app://.

It reuses map_scheme's handler (Leaflet from the xstatic package, qwebchannel.js from Qt,
tiles from the on-disk cache) but not the live fleet map's page or glue: the replay
draws one track and a cursor, and must not depend on how the fleet map is optimised.
The page side is resources/map/replay.js.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.models.track_queries import Track
from app.views.map_host import host_page
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
</head><body><div id="map"></div>
<script>routeReplay.init({config});</script>
</body></html>
"""


def build_page(center: tuple[float, float], zoom: int = 13) -> str:
    config = dict(PAGE_CONFIG, center=list(center), zoom=zoom)
    return _PAGE.format(config=json.dumps(config))


class _Bridge(QObject):
    ready = Signal()

    @Slot()
    def pageReady(self) -> None:
        self.ready.emit()


class ReplayMap(QWidget):
    """One track and a cursor on a map. Calls made before the page is ready are queued.

    Signals:
        ready(): the page is loaded and accepts data.
    """

    ready = Signal()

    def __init__(
        self, tiles: TileCache, center: tuple[float, float], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.is_ready = False
        self._pending: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view: QWebEngineView | None = None
        self.bridge = _Bridge(self)
        self.bridge.ready.connect(self._on_ready)
        hosted = host_page(
            self,
            layout,
            tiles=tiles,
            page=PAGE,
            html=build_page(center),
            script=GLUE_JS,
            bridge=self.bridge,
        )
        self.view = hosted.view if hosted else None
        if hosted:
            self.profile, self.handler = hosted.profile, hosted.handler

    def set_track(self, track: Track) -> None:
        segments = [
            [[f.lat, f.lon] for f in track.fixes[start:stop]] for start, stop in track.segments
        ]
        self._call(f"routeReplay.setTrack({_js(segments)})")

    def set_cursor(self, position: tuple[float, float] | None) -> None:
        lat, lon = position if position is not None else (None, None)
        self._call(f"routeReplay.cursor({_js(lat)}, {_js(lon)})")

    def _call(self, script: str) -> None:
        if self.is_ready:
            self.run_js(script)
        else:
            self._pending.append(script)

    def _on_ready(self) -> None:
        self.is_ready = True
        if self._pending:
            self.run_js(";".join(self._pending))
            self._pending.clear()
        self.ready.emit()

    def run_js(self, script: str, callback: Callable[[Any], None] | None = None) -> None:
        if self.view is None:
            return
        if callback is None:
            self.view.page().runJavaScript(script, 0)
        else:
            self.view.page().runJavaScript(script, 0, callback)

    async def aclose(self) -> None:
        if self.view is not None:
            await self.handler.aclose()


def _js(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
