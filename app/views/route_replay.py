"""Route replay: play back one vehicle's track over a time range on a map.

Opened from the main window ("Route Replay…", Ctrl+Shift+P) for the selected vehicle.
The track is read on the database thread (:mod:`app.models.track_queries`) and only read,
so the replay works on a read-only review database too. The slider is time in seconds
from the range start; play advances it by ``speed x`` real time on a timer. Beside the map
are the readings as of the cursor (carried forward, since the store keeps only changes)
and the list of gaps, where the track is split and drawn dashed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.models.errors import DatabaseError
from app.models.track_queries import Track
from app.services.zones.service import ZoneService
from app.views import formatting as fmt
from app.views.map_tiles import TileCache, TileFetcher
from app.views.replay_map import ReplayMap
from app.views.window_parts import WindowParts

logger = logging.getLogger(__name__)

SPEEDS = (1, 2, 5, 10, 30, 60)
TICK_MS = 100
DEFAULT_RANGE = timedelta(hours=24)


def _local(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class RouteReplayDialog(QDialog):
    """The replay window of one vehicle.

    Signals:
        loaded(int): a track with this many fixes is shown.
        load_failed(str): the track could not be read.
    """

    loaded = Signal(int)
    load_failed = Signal(str)

    def __init__(self, parts: WindowParts, vehicle_id: int, title: str) -> None:
        super().__init__(parts.owner)
        self.setWindowTitle(f"Route Replay — {title}")
        self.setObjectName("routeReplay")
        self.resize(1100, 700)
        self._telemetry = parts.context.telemetry
        self.vehicle_id = vehicle_id
        self.track: Track | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        context = parts.context
        online = not context.read_only
        tiles = TileCache(context.paths.tile_cache_dir, TileFetcher() if online else None)
        demo = context.settings.demo
        self.map = ReplayMap(tiles, (demo.center_lat, demo.center_lon))
        self._zones_task = (
            None
            if context.zones is None
            else asyncio.get_running_loop().create_task(self._show_zones(context.zones))
        )

        now = QDateTime.currentDateTimeUtc()
        self.since_edit = QDateTimeEdit(now.addSecs(-int(DEFAULT_RANGE.total_seconds())))
        self.until_edit = QDateTimeEdit(now)
        for edit in (self.since_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(lambda _checked=False: self.load())
        top = QHBoxLayout()
        top.addWidget(QLabel("From"))
        top.addWidget(self.since_edit)
        top.addWidget(QLabel("To"))
        top.addWidget(self.until_edit)
        top.addWidget(self.load_button)
        top.addStretch(1)

        self.readings = {key: QLabel("") for key in ("time", "speed", "energy", "odometer", "lock")}
        side = QWidget()
        form = QFormLayout(side)
        for key, label in (
            ("time", "Time"),
            ("speed", "Speed"),
            ("energy", "Fuel / charge"),
            ("odometer", "Odometer"),
            ("lock", "Lock"),
        ):
            self.readings[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label, self.readings[key])
        self.gap_list = QListWidget()
        form.addRow(QLabel("Gaps (no position reported)"))
        form.addRow(self.gap_list)
        self.status = QLabel("")
        form.addRow(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.map)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self._on_slider)
        self.speed_combo = QComboBox()
        for speed in SPEEDS:
            self.speed_combo.addItem(f"{speed}x", speed)
        self.speed_combo.setCurrentIndex(len(SPEEDS) - 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.play_button)
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.speed_combo)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self._set_controls(False)

    # Loading ------------------------------------------------------------------------
    def range(self) -> tuple[datetime, datetime]:
        def utc(edit: QDateTimeEdit) -> datetime:
            return datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), UTC)

        return utc(self.since_edit), utc(self.until_edit)

    def set_range(self, since: datetime, until: datetime) -> None:
        self.since_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(since.timestamp())))
        self.until_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(until.timestamp())))

    async def _show_zones(self, zones: ZoneService) -> None:
        """The zones under the track (read-only), as the fleet map shows them."""
        try:
            shapes = await zones.zones()
        except DatabaseError as exc:
            logger.warning("route replay: zones could not be read: %s", exc)
            return
        self.map.zones.show_zones(shapes)

    def load(self) -> None:
        """Read the track of the chosen range; a newer load replaces one in flight."""
        if self._task is not None:
            self._task.cancel()
        self.play_button.setChecked(False)
        self._task = asyncio.get_running_loop().create_task(self._load(), name="route replay")

    async def _load(self) -> None:
        since, until = self.range()
        self.status.setText("Loading…")
        try:
            track = await self._telemetry.track(self.vehicle_id, since, until)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bad range or an unreachable database: say so
            logger.warning("route replay of vehicle %d failed: %s", self.vehicle_id, exc)
            self.status.setText(f"Could not load the track: {exc}")
            self.load_failed.emit(str(exc))
            return
        self.show_track(track)

    def show_track(self, track: Track) -> None:
        self.track = track
        self.map.set_track(track)
        self.gap_list.clear()
        for gap in track.gaps:
            minutes = gap.seconds / 60
            self.gap_list.addItem(f"{_local(gap.start)} → {_local(gap.end)} ({minutes:.0f} min)")
        span = int((track.until - track.since).total_seconds())
        self.slider.blockSignals(True)
        self.slider.setRange(0, span)
        self.slider.setValue(self._offset(track.fixes[0].at) if track.fixes else 0)
        self.slider.blockSignals(False)
        self._set_controls(bool(track.fixes))
        self.status.setText(
            f"{len(track.fixes)} positions, {len(track.gaps)} gaps"
            if track.fixes
            else "No positions in this range"
        )
        self._on_slider(self.slider.value())
        self.loaded.emit(len(track.fixes))

    def _set_controls(self, enabled: bool) -> None:
        for widget in (self.play_button, self.slider, self.speed_combo):
            widget.setEnabled(enabled)

    # Cursor -------------------------------------------------------------------------
    def _offset(self, at: datetime) -> int:
        assert self.track is not None
        return int((at - self.track.since).total_seconds())

    def cursor_time(self) -> datetime | None:
        if self.track is None:
            return None
        return self.track.since + timedelta(seconds=self.slider.value())

    def _on_slider(self, _value: int) -> None:
        at = self.cursor_time()
        if at is None or self.track is None:
            return
        self.map.set_cursor(self.track.position_at(at))
        reading = self.track.reading_at(at)
        self.readings["time"].setText(_local(at))
        if reading is None:
            for key in ("speed", "energy", "odometer", "lock"):
                self.readings[key].setText("—")
            return
        speed = "" if reading.speed_kmh is None else f"{reading.speed_kmh:.0f} km/h"
        energy = " / ".join(
            text
            for text in (
                reading.fuel_pct is not None and f"fuel {fmt.percent(reading.fuel_pct)}",
                reading.battery_pct is not None and f"charge {fmt.percent(reading.battery_pct)}",
            )
            if text
        )
        self.readings["speed"].setText(speed or "—")
        self.readings["energy"].setText(energy or "—")
        self.readings["odometer"].setText(fmt.kilometres(reading.odometer_km) or "—")
        self.readings["lock"].setText(fmt.locked(reading.locked) or "—")

    # Playing ------------------------------------------------------------------------
    def speed(self) -> int:
        return int(self.speed_combo.currentData())

    def _on_play(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if playing:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()

    def _tick(self) -> None:
        step = max(1, round(self.speed() * TICK_MS / 1000))
        value = min(self.slider.value() + step, self.slider.maximum())
        self.slider.setValue(value)
        if value >= self.slider.maximum():
            self.play_button.setChecked(False)

    # Closing ------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        for task in (self._task, self._zones_task):  # a read in flight paints no closed map
            if task is not None:
                task.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and self._closing is None:
            self._closing = loop.create_task(self.map.aclose(), name="close replay tiles")
        super().closeEvent(event)


class RouteReplayActions:
    """Installs "Route Replay…" on the main window and opens replays of the selection."""

    def __init__(self, parts: WindowParts, menu: QMenu) -> None:
        """``menu`` is the window's View menu."""
        self._parts = parts
        self.dialogs: list[RouteReplayDialog] = []
        self.action = QAction("Route &Replay…", parts.owner)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.action.setToolTip("Play back the selected vehicle's route")
        self.action.triggered.connect(lambda _checked=False: self.open())
        parts.owner.addAction(self.action)
        menu.addAction(self.action)

    def open(self) -> RouteReplayDialog | None:
        row = self._parts.fleet.current_row()
        if row is None:
            self._parts.show_message("Select a vehicle to replay its route", 5000)
            return None
        dialog = RouteReplayDialog(self._parts, row.id, f"{row.name} [{row.fleet_number}]")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result, d=dialog: self._forget(d))
        self.dialogs.append(dialog)
        dialog.show()
        dialog.load()
        return dialog

    def _forget(self, dialog: RouteReplayDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
