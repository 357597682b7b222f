"""Windows sized to what they show: the rule for tables in our dialogs and tool windows.

A fixed size guessed at design time clips whatever turns out longer in the field (a
15-digit IMEI, an IPv6 address, "Acknowledged by … at …"). Columns are sized to their
contents and the window grows to show them all, but never past the screen: beyond that
the table scrolls.
"""

from __future__ import annotations

from PySide6.QtWidgets import QTableView, QWidget


def widen_to_table(window: QWidget, table: QTableView) -> None:
    """Size ``table``'s columns to their contents; widen ``window`` (not shrink it) so
    every column is visible, within the available screen width."""
    table.resizeColumnsToContents()
    needed = table.horizontalHeader().length() + table.frameWidth() * 2
    needed += table.verticalScrollBar().sizeHint().width()
    if table.verticalHeader().isVisible():
        needed += table.verticalHeader().width()
    layout = window.layout()
    if layout is not None:
        margins = layout.contentsMargins()
        needed += margins.left() + margins.right()
    wanted = min(needed, window.screen().availableGeometry().width())
    if wanted > window.width():
        window.resize(wanted, window.height())
