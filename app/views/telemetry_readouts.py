"""The latest readings of one vehicle, each with its age, for the detail panel.

Every value says how old it is ("12 min ago") because a fuel level from yesterday reads
very differently from one a minute old; values older than ``telemetry.stale_after_min``
are marked stale. A field that never reported says "waiting for first data".
Loading runs on the database thread; the latest selection wins (an older load still in
flight is cancelled).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from app.views import formatting as fmt
from app.views.lifetime import gone
from app.views.map_tiles import TileCache
from app.views.mini_map import MiniMap

logger = logging.getLogger(__name__)

PSI_PER_KPA = 0.1450377
STALE_STYLE = "color: #b45309"
FIELDS = (
    ("location", "Location"),
    ("energy", "Fuel / charge"),
    ("charging", "Charging"),
    ("range", "Range"),
    ("odometer", "Odometer"),
    ("locked", "Lock"),
    ("doors", "Doors"),
    ("tires", "Tire pressures"),
    ("oil_life", "Oil life"),
)
WHEEL_LABELS = {
    "frontLeft": "Front left",
    "frontRight": "Front right",
    "backLeft": "Rear left",
    "backRight": "Rear right",
    "rearLeft": "Rear left",
    "rearRight": "Rear right",
}


@dataclass(frozen=True, slots=True)
class Stamped:
    """A value and when the vehicle measured it."""

    value: Any
    at: datetime | None


Latest = Mapping[str, Stamped]  # keys as in FIELDS, "location" holds (lat, lon)
LatestLoader = Callable[[int], Awaitable[Latest | None]]


def kpa_with_psi(kpa: float) -> str:
    return f"{kpa:.0f} kPa ({kpa * PSI_PER_KPA:.1f} psi)"


def _name(key: str) -> str:
    if key in WHEEL_LABELS:
        return WHEEL_LABELS[key]
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in key)
    return spaced.strip().capitalize()


def describe(key: str, value: Any) -> str:
    """The words for one field's value (without its age)."""
    if key == "location":
        lat, lon = value
        return f"{lat:.5f}, {lon:.5f}"
    if key in ("energy", "oil_life"):
        return fmt.percent(value)
    if key in ("range", "odometer"):
        return fmt.kilometres(value)
    if key == "locked":
        return fmt.locked(value)
    if key == "charging":
        return "Charging" if value else "Not charging"
    if key == "doors":
        return "\n".join(f"{_name(k)}: {str(v).lower()}" for k, v in sorted(value.items()))
    if key == "tires":
        return "\n".join(f"{_name(k)}: {kpa_with_psi(v)}" for k, v in sorted(value.items()))
    return str(value)


class TelemetryReadouts(QWidget):
    """Readouts of one vehicle; give it a loader with ``set_loader`` to fetch by id."""

    def __init__(
        self,
        stale_after: timedelta = timedelta(minutes=30),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("telemetryReadouts")
        self.stale_after = stale_after
        self.loader: LatestLoader | None = None
        self.vehicle_id: int | None = None
        self.latest: Latest | None = None
        self.values: dict[str, QLabel] = {}
        self._stale: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        form = QFormLayout()
        for key, label in FIELDS:
            value = QLabel(fmt.WAITING)
            value.setObjectName(f"readout_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(label, value)
        self.mini_map = MiniMap()
        self.mini_map.set_position(None, None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.mini_map)
        self._ages = QTimer(self)  # ages move on even when no new data arrives
        self._ages.setInterval(30_000)
        self._ages.timeout.connect(lambda: self.show_latest(self.latest))
        self._ages.start()

    def set_loader(self, loader: LatestLoader, tiles: TileCache | None = None) -> None:
        self.loader = loader
        if tiles is not None:
            self.mini_map.set_tiles(tiles)

    def text(self, key: str) -> str:
        return self.values[key].text()

    def is_stale(self, key: str) -> bool:
        return key in self._stale

    # Loading ------------------------------------------------------------------------
    def show_vehicle(self, vehicle_id: int | None) -> None:
        """Show ``vehicle_id``'s latest readings (loaded in the background)."""
        if vehicle_id != self.vehicle_id:
            self.show_latest(None)
        self.vehicle_id = vehicle_id
        self.reload()

    def reload(self) -> asyncio.Task[None] | None:
        if self._task is not None:
            self._task.cancel()  # the latest request wins
            self._task = None
        if self.vehicle_id is None or self.loader is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # shown outside the app's loop (a plain widget test)
            return None
        self._task = loop.create_task(
            self._load(self.vehicle_id, self.loader), name="telemetry readouts"
        )
        return self._task

    async def _load(self, vehicle_id: int, loader: LatestLoader) -> None:
        try:
            latest = await loader(vehicle_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("loading the latest readings of vehicle %s failed", vehicle_id)
            return
        if gone(self):  # the window closed (and Qt deleted the panel) while this loaded
            return
        if vehicle_id == self.vehicle_id:
            self.show_latest(latest)

    # Showing ------------------------------------------------------------------------
    def show_latest(self, latest: Latest | None, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        self.latest = latest
        self._stale.clear()
        for key, _label in FIELDS:
            stamped = (latest or {}).get(key)
            label = self.values[key]
            if stamped is None or stamped.value is None or stamped.value == {}:
                label.setText(fmt.WAITING)
                label.setStyleSheet("")
                continue
            stale = stamped.at is not None and now - stamped.at > self.stale_after
            when = fmt.age(stamped.at, now) if stamped.at else "time unknown"
            label.setText(f"{describe(key, stamped.value)}\n{when}{' — stale' if stale else ''}")
            label.setStyleSheet(STALE_STYLE if stale else "")
            label.setToolTip(stamped.at.isoformat(timespec="seconds") if stamped.at else "")
            if stale:
                self._stale.add(key)
        location = (latest or {}).get("location")
        if location is not None and location.value is not None:
            self.mini_map.set_position(*location.value)
        else:
            self.mini_map.set_position(None, None)

    def closeEvent(self, event: Any) -> None:
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(event)
