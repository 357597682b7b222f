"""The fleet list's column layout and the main window's first size.

What an operator scans the list for (status, fuel or battery, how long ago a vehicle was
heard from) comes right after the name, so it is on screen without horizontal scrolling
at the window's first size even on a 1366x768 laptop; the descriptive columns follow,
narrower. The model's column numbers stay as they are (the saved sort column, other
code and the tests use them): only the header's visual order changes.

The header's saved state is stored under a versioned key: a state saved by an older
version (its own order, widths, maybe these columns dragged far right) would otherwise
undo this layout for everyone who ran the console before. Bump the version whenever
the default layout changes.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtWidgets import QTableView

from app.views.item_models.vehicle_table_model import Column

HEADER_STATE_KEY = "list-header-v2"  # "header" (v1) is ignored and removed
# Visual order, left to right, with each column's first width in pixels.
COLUMN_LAYOUT: tuple[tuple[Column, int], ...] = (
    (Column.NAME, 170),
    (Column.STATUS, 105),
    (Column.ENERGY, 95),
    (Column.LAST_HEARD, 95),
    (Column.FLEET_NUMBER, 80),
    (Column.KIND, 70),
    (Column.CONNECTION, 150),
    (Column.MAKE_MODEL, 180),
    (Column.ODOMETER, 90),
    (Column.LOCKED, 80),
)
DEFAULT_SIZE = QSize(1400, 850)
SCREEN_SHARE = 0.92  # of the available screen, at most: room for the frame and title bar


def lay_out_columns(table: QTableView) -> None:
    """Put the list's columns in COLUMN_LAYOUT's order and widths."""
    header = table.horizontalHeader()
    for visual, (column, width) in enumerate(COLUMN_LAYOUT):
        header.moveSection(header.visualIndex(column), visual)
        table.setColumnWidth(column, width)


def initial_size(available: QRect) -> QSize:
    """The window's first size: DEFAULT_SIZE, shrunk to fit the available screen area."""
    return QSize(
        min(DEFAULT_SIZE.width(), int(available.width() * SCREEN_SHARE)),
        min(DEFAULT_SIZE.height(), int(available.height() * SCREEN_SHARE)),
    )
