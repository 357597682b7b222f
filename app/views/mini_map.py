"""A small static map around one position, painted from the tile cache.

The detail panel wants "where is it" at a glance; a second web view per panel would cost
a Chromium page for a 200 px picture. This paints the cached OSM tiles around the point
with QPainter and marks the vehicle; with no cached tiles it is the map's neutral
background with the marker and a small "map offline" note: nothing on it may read as
an alarm, so red is kept to the marker dot.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.views.map_scheme import BACKGROUND
from app.views.map_tiles import TileCache

TILE = 256
ZOOM = 15
SOURCE = "osm"
MARKER = "#e53935"
FRAME = "#55606a"
OFFLINE_NOTE = "map offline"


def world_pixel(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web-Mercator pixel of a position at ``zoom`` (the tile scheme Leaflet uses)."""
    scale = TILE * 2**zoom
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = (lon + 180.0) / 360.0 * scale
    rad = math.radians(lat)
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * scale
    return x, y


class MiniMap(QWidget):
    """Shows ``set_position(lat, lon)``; ``set_position(None, None)`` hides the marker."""

    def __init__(self, tiles: TileCache | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("miniMap")
        self.tiles = tiles
        self.position: tuple[float, float] | None = None
        self.tiles_drawn = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(160, 120)

    def sizeHint(self) -> QSize:
        return QSize(260, 140)

    def set_tiles(self, tiles: TileCache) -> None:
        self.tiles = tiles
        self.update()

    def set_position(self, lat: float | None, lon: float | None) -> None:
        self.position = None if lat is None or lon is None else (lat, lon)
        self.setVisible(self.position is not None)
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        self.tiles_drawn = 0
        if self.position is None:
            painter.end()
            return
        cx, cy = world_pixel(*self.position, ZOOM)
        left, top = cx - self.width() / 2, cy - self.height() / 2
        if self.tiles is not None:
            for tx in range(int(left // TILE), int((left + self.width()) // TILE) + 1):
                for ty in range(int(top // TILE), int((top + self.height()) // TILE) + 1):
                    if not (0 <= tx < 2**ZOOM and 0 <= ty < 2**ZOOM):
                        continue
                    data = self.tiles.cached(SOURCE, ZOOM, tx, ty)
                    image = QImage.fromData(data) if data else QImage()
                    if not image.isNull():
                        painter.drawImage(QPointF(tx * TILE - left, ty * TILE - top), image)
                        self.tiles_drawn += 1
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffffff"), 2))
        painter.setBrush(QColor(MARKER))
        painter.drawEllipse(QPointF(self.width() / 2, self.height() / 2), 6, 6)
        painter.setBrush(Qt.BrushStyle.NoBrush)  # the frame is an outline, not a red fill
        painter.setPen(QColor(FRAME))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self.tiles_drawn == 0:
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 0.85)
            painter.setFont(font)
            painter.drawText(
                self.rect().adjusted(4, 0, -4, -4),
                Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight,
                OFFLINE_NOTE,
            )
        painter.end()
