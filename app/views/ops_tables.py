"""Small helpers shared by the rental, alert and audit views: a read-only table, CSV save."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.views.dialogs import ask_save_path

ID_ROLE = Qt.ItemDataRole.UserRole


def make_table(headers: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    table.setAlternatingRowColors(True)
    return table


def fill(table: QTableWidget, rows: Sequence[tuple[int, Sequence[object]]]) -> None:
    """``rows`` = (id, cells); the id sits in the first cell's user role."""
    table.setRowCount(len(rows))
    for r, (row_id, cells) in enumerate(rows):
        for c, value in enumerate(cells):
            item = QTableWidgetItem("" if value is None else str(value))
            if c == 0:
                item.setData(ID_ROLE, row_id)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    _stretch_last(table)


def _stretch_last(table: QTableWidget) -> None:
    """Let the last column fill the table again. Sizing to contents sizes it too, which
    ends its stretch until the next resize, so a table narrower than its window ends in an
    empty grey band; unless its text needs more room than is left (then it keeps the width
    that shows it whole, and the table scrolls sideways)."""
    header = table.horizontalHeader()
    last = table.columnCount() - 1
    fitted = header.sectionSize(last)
    header.setStretchLastSection(False)
    header.setStretchLastSection(True)
    if header.sectionSize(last) < fitted:
        header.setStretchLastSection(False)
        header.resizeSection(last, fitted)


def selected_ids(table: QTableWidget) -> list[int]:
    first_cells = sorted(table.selectionModel().selectedRows(), key=lambda index: index.row())
    return [index.data(ID_ROLE) for index in first_cells]


async def ask_csv_path(parent: QWidget, suggested: str) -> Path | None:
    return await ask_save_path(parent, "Export CSV", suggested, "CSV files (*.csv)")
