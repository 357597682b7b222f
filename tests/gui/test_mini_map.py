"""The detail panel's mini map without cached tiles: a neutral placeholder, not a red block."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor

from app.views.map_scheme import BACKGROUND
from app.views.map_tiles import TileCache
from app.views.mini_map import MARKER, MiniMap

pytestmark = pytest.mark.gui


def share_of(image, colour: str, box=None) -> float:
    """Share of the pixels (in ``box`` = (x0, y0, x1, y1)) that have ``colour``."""
    x0, y0, x1, y1 = box or (0, 0, image.width(), image.height())
    wanted = QColor(colour).rgb()
    hits = sum(image.pixel(x, y) == wanted for x in range(x0, x1) for y in range(y0, y1))
    return hits / ((x1 - x0) * (y1 - y0))


def test_without_tiles_the_mini_map_is_neutral_with_an_offline_note(qtbot, tmp_path):
    mini = MiniMap(TileCache(tmp_path / "tiles"))
    qtbot.addWidget(mini)
    mini.resize(260, 140)
    mini.set_position(52.52, 13.405)
    image = mini.grab().toImage()
    assert mini.tiles_drawn == 0
    assert share_of(image, MARKER) < 0.02  # red is the marker dot only
    assert share_of(image, BACKGROUND) > 0.85  # the map's plain background
    assert image.pixelColor(130, 70) == QColor(MARKER)  # the vehicle, in the middle
    note = (160, 118, 256, 136)  # bottom right: "map offline" in small dark text
    assert 1 - share_of(image, BACKGROUND, note) > 0.02
