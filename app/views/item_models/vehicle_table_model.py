"""The fleet list's Qt model: a thin adapter over plain VehicleRow values.

It never opens a database session; the main window hands it rows. Display strings and
the search text are computed once per row when rows arrive, so painting and filtering
100,000 vehicles stays cheap.

The Status cell carries a dot in the status colour (the map's colours); an Offline
vehicle's "Last heard" is grey and italic with a tooltip, so stale data is never read as
current (issue #13 item 5).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from functools import cache
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from app.models.vehicles import VehicleRow
from app.views import formatting as fmt

Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    NAME = 0
    FLEET_NUMBER = 1
    KIND = 2
    MAKE_MODEL = 3
    CONNECTION = 4
    STATUS = 5
    ENERGY = 6
    ODOMETER = 7
    LOCKED = 8
    LAST_HEARD = 9


HEADERS = {
    Column.NAME: "Name",
    Column.FLEET_NUMBER: "Fleet no.",
    Column.KIND: "Kind",
    Column.MAKE_MODEL: "Make / model / year",
    Column.CONNECTION: "Connection",
    Column.STATUS: "Status",
    Column.ENERGY: "Fuel / battery",
    Column.ODOMETER: "Odometer",
    Column.LOCKED: "Locked",
    Column.LAST_HEARD: "Last heard",
}

VEHICLE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

_NUMERIC = {Column.ENERGY, Column.ODOMETER}
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_STALE_BRUSH = QBrush(QColor("#8a8f98"))


def _make_model_year(row: VehicleRow) -> str:
    text = f"{row.make} {row.model}".strip()
    return f"{text} {row.year}" if row.year else text


def search_text(row: VehicleRow) -> str:
    """Everything the search box matches: name, fleet number, plate, VIN, IMEI, make/model.

    Fields are joined with a newline so that a search never matches across two fields.
    """
    fields = (row.name, row.fleet_number, row.plate, row.vin or "", row.imei or "")
    return "\n".join((*fields, f"{row.make} {row.model}")).lower()


class VehicleTableModel(QAbstractTableModel):
    """All vehicles of the list, in database order; filtering and sorting live in the proxy."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[VehicleRow] = []
        self.search_keys: list[str] = []
        self._position: dict[int, int] = {}
        self._icons: dict[str, QIcon] = {}
        self._now = datetime.now(UTC)
        self._alerts: dict[int, str] = {}  # vehicle id -> most severe open alert

    # Qt API -------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column(), role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _FLAGS

    def cell(self, position: int, column: int, role: int) -> Any:
        """What ``data()`` answers, addressable by plain row numbers (the proxy calls this
        directly: one Python call per cell and role instead of three)."""
        if role == Qt.ItemDataRole.DisplayRole:
            text = self._display(self.rows[position], column)
            if column == Column.STATUS and self._alerts:
                return _alert_marked(text, self._alerts.get(self.rows[position].id))
            return text
        if role == VEHICLE_ID_ROLE:
            return self.rows[position].id
        if role == Qt.ItemDataRole.DecorationRole:
            if column == Column.CONNECTION:
                return self._badge_icon(self.rows[position])
            if column == Column.STATUS:
                return self._status_dot(self.rows[position].status)
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in _NUMERIC else None
        if column == Column.LAST_HEARD and self.rows[position].status == "offline":
            if role == Qt.ItemDataRole.ForegroundRole:
                return _STALE_BRUSH
            if role == Qt.ItemDataRole.FontRole:
                return _stale_font()
        if role == Qt.ItemDataRole.ToolTipRole and column == Column.LAST_HEARD:
            row = self.rows[position]
            heard = row.last_heard_at
            when = heard.astimezone().strftime("%Y-%m-%d %H:%M:%S") if heard else "never heard"
            if row.status == "offline":
                return f"{when} — stale: no report within its expected interval (Offline)"
            return when if heard else None
        if role == Qt.ItemDataRole.ToolTipRole and column == Column.STATUS:
            severity = self._alerts.get(self.rows[position].id)
            return f"Open alerts — most severe: {severity}" if severity else None
        return None

    # Feeding ------------------------------------------------------------------------
    def set_rows(self, rows: list[VehicleRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.search_keys = [search_text(r) for r in self.rows]
        self._position = {r.id: i for i, r in enumerate(self.rows)}
        self.endResetModel()

    def upsert_row(self, row: VehicleRow) -> None:
        """Replace one vehicle's row in place, or append it when it is new."""
        position = self._position.get(row.id)
        if position is None:
            position = len(self.rows)
            self.beginInsertRows(QModelIndex(), position, position)
            self.rows.append(row)
            self.search_keys.append(search_text(row))
            self._position[row.id] = position
            self.endInsertRows()
            return
        self.rows[position] = row
        self.search_keys[position] = search_text(row)
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(Column) - 1))

    def set_alerts(self, worst: dict[int, str]) -> None:
        """Mark vehicles with open alerts (id -> most severe) in the Status column."""
        if worst == self._alerts:
            return
        self._alerts = dict(worst)
        if self.rows:
            column = Column.STATUS
            self.dataChanged.emit(self.index(0, column), self.index(len(self.rows) - 1, column))

    def position_of(self, vehicle_id: int) -> int | None:
        return self._position.get(vehicle_id)

    def tick(self, now: datetime | None = None) -> None:
        """Advance the clock behind the 'last heard' ages and repaint that column."""
        self._now = now or datetime.now(UTC)
        if self.rows:
            column = Column.LAST_HEARD
            self.dataChanged.emit(self.index(0, column), self.index(len(self.rows) - 1, column))

    def sort_keys(self, column: Column) -> list[Any]:
        """One key per row that sorts unknown values last, numbers as numbers, text case-blind."""
        if column == Column.ENERGY:
            return [(r.energy_pct is None, r.energy_pct or 0.0) for r in self.rows]
        if column == Column.ODOMETER:
            return [(r.odometer_km is None, r.odometer_km or 0.0) for r in self.rows]
        if column == Column.LAST_HEARD:
            return [
                (r.last_heard_at is None, -r.last_heard_at.timestamp() if r.last_heard_at else 0.0)
                for r in self.rows
            ]
        if column == Column.NAME:
            return [r.name.lower() for r in self.rows]
        if column == Column.FLEET_NUMBER:
            return [r.fleet_number.lower() for r in self.rows]
        return [self._display(r, column).lower() for r in self.rows]

    # Helpers ------------------------------------------------------------------------
    def _display(self, row: VehicleRow, column: int) -> str:
        """The cell's text, computed when Qt asks: only rows on screen are ever formatted."""
        match column:
            case Column.NAME:
                return row.name
            case Column.FLEET_NUMBER:
                return row.fleet_number
            case Column.KIND:
                return fmt.KIND_LABELS.get(row.kind, row.kind)
            case Column.MAKE_MODEL:
                return _make_model_year(row)
            case Column.CONNECTION:
                return fmt.connection_badge(
                    row.connection_type, row.connection_status, row.iot_vendor
                )
            case Column.STATUS:
                return fmt.STATUS_LABELS.get(row.status, row.status)
            case Column.ENERGY:
                return fmt.percent(row.energy_pct)
            case Column.ODOMETER:
                return fmt.kilometres(row.odometer_km)
            case Column.LOCKED:
                return fmt.locked(row.locked)
            case Column.LAST_HEARD:
                return fmt.age(row.last_heard_at, self._now) if row.last_heard_at else "never"
        return ""

    def _status_dot(self, status: str) -> QIcon | None:
        colour = fmt.STATUS_COLOURS.get(status)
        if colour is None:
            return None
        key = f"dot:{colour}"
        icon = self._icons.get(key)
        if icon is None:
            pixmap = QPixmap(12, 12)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawEllipse(1, 1, 10, 10)
            painter.end()
            icon = self._icons[key] = QIcon(pixmap)
        return icon

    def _badge_icon(self, row: VehicleRow) -> QIcon | None:
        if row.connection_status is not None:
            colour = fmt.CONNECTION_STATUS_COLOURS.get(row.connection_status, "#8a8f98")
        elif row.connection_type == "iot":
            colour = fmt.IOT_BADGE_COLOUR
        else:
            return None
        icon = self._icons.get(colour)
        if icon is None:
            pixmap = QPixmap(12, 12)
            pixmap.fill(QColor(colour))
            icon = self._icons[colour] = QIcon(pixmap)
        return icon


@cache
def _stale_font() -> QFont:
    """Italic, made on first use (a QFont wants the QGuiApplication to exist)."""
    font = QFont()
    font.setItalic(True)
    return font


def _alert_marked(status: str, severity: str | None) -> str:
    """The Status cell with a warning sign when the vehicle has open alerts (sorting
    uses the plain label, so the marker never reorders the column)."""
    return f"⚠ {status}" if severity else status
