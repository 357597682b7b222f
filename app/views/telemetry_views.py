"""Puts the telemetry views into the main window: map tab, charts tab, readouts, cron status.

Kept out of main_window.py so the window's own code stays about the list; the window
builds one ``TelemetryViews`` with its parts and puts ``left_tabs`` (the list beside the
map) and ``right_tabs`` (the details beside the charts) into its splitter. The map
follows the fleet list's model (the same VehicleRow data the list shows): a reload
replaces the map's vehicles, a refreshed row moves its marker, and the map coalesces
those pushes. The map page is only built when
its tab is first shown, so a console that never looks at the map never starts Chromium.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

from app.models.telemetry_queries import LatestState
from app.services.access import Capability
from app.services.telemetry.reads import TelemetryReads
from app.services.telemetry.status import CronStatus, VehiclePollStatus
from app.views.cron_status import CronStatusLabel
from app.views.fleet_map import FleetMapView
from app.views.map_tiles import TileCache, TileFetcher
from app.views.telemetry_charts import SeriesLoader, TelemetryCharts
from app.views.telemetry_readouts import Latest, LatestLoader, Stamped
from app.views.window_parts import WindowParts
from app.views.zone_editing import ZoneEditing

logger = logging.getLogger(__name__)


def readouts_of(state: LatestState | None) -> Latest | None:
    """The store's latest state in the readouts' terms (one entry per shown field)."""
    if state is None:
        return None
    values = state.values
    out: dict[str, Stamped] = {}
    lat, lon = values.get("latitude"), values.get("longitude")
    if lat is not None and lon is not None:
        stamps = [t for t in (lat.recorded_at, lon.recorded_at) if t is not None]
        out["location"] = Stamped((lat.value, lon.value), min(stamps, default=None))
    energy = values.get("fuel_pct") or values.get("battery_pct")
    for key, item in (
        ("energy", energy),
        ("charging", values.get("charging")),
        ("range", values.get("range_km")),
        ("odometer", values.get("odometer_km")),
        ("locked", values.get("locked")),
        ("doors", values.get("doors")),
        ("tires", values.get("tires_kpa")),
        ("oil_life", values.get("oil_life_pct")),
    ):
        if item is not None:
            out[key] = Stamped(item.value, item.recorded_at)
    return out


class TelemetryViews(QObject):
    """Owns the map, the charts and the cron indicator of one main window."""

    def __init__(
        self,
        parts: WindowParts,
        list_pane: QWidget,
        *,
        series: SeriesLoader | None = None,
        latest: LatestLoader | None = None,
        cron_status: Callable[[], CronStatus | None] | None = None,
        fetch_tiles: bool | None = None,
    ) -> None:
        super().__init__(parts.owner)
        self._parts = parts
        self._fleet = fleet = parts.fleet
        context = parts.context
        online = not context.read_only if fetch_tiles is None else fetch_tiles
        self.tiles = TileCache(context.paths.tile_cache_dir, TileFetcher() if online else None)
        reads = context.telemetry
        series = series or reads.chart
        latest = latest or (lambda vid: _latest(reads, vid))
        self.map: FleetMapView | None = None
        self.zone_editing: ZoneEditing | None = None  # with the map, where zones exist
        self._map_only: frozenset[int] | None = None
        self._closing: set[asyncio.Task[None]] = set()

        # Left pane: the list and, beside it in a tab, the map.
        self.left_tabs = QTabWidget()
        self.left_tabs.setObjectName("fleetTabs")
        self.left_tabs.setDocumentMode(True)
        self.left_tabs.addTab(list_pane, "Fleet list")
        self.left_tabs.addTab(self._map_placeholder(), "Map")
        self.left_tabs.currentChanged.connect(self._on_left_tab)

        # Right pane: the detail panel and the charts of the selected vehicle.
        self.charts = TelemetryCharts()
        self.charts.set_loader(series)
        self.right_tabs = QTabWidget()
        self.right_tabs.setObjectName("detailTabs")
        self.right_tabs.setDocumentMode(True)
        self.right_tabs.addTab(parts.detail, "Details")
        self.right_tabs.addTab(self.charts, "Charts")
        self.right_tabs.currentChanged.connect(lambda _i: self._update_charts())

        readouts = parts.detail.readouts
        readouts.stale_after = timedelta(minutes=context.settings.telemetry.stale_after_min)
        readouts.set_loader(latest, self.tiles)
        readouts.reload()

        # For the window's status bar.
        self.cron_label = CronStatusLabel(cron_status or (lambda: None))

        fleet.table.selectionModel().currentRowChanged.connect(self._on_selection)
        # A search or filter change resets the proxy, which drops the current index
        # without a signal; the window then re-selects the vehicle if it is still listed.
        # Queued, so this looks once that is done: a hidden selection releases the map
        # and the charts, a kept one changes nothing.
        fleet.proxy.modelReset.connect(self._on_selection, Qt.ConnectionType.QueuedConnection)
        model = fleet.model
        model.modelReset.connect(self._push_all)
        model.rowsInserted.connect(self._push_inserted)
        model.dataChanged.connect(self._push_changed)
        parts.owner.installEventFilter(self)

    def set_cron_status(
        self,
        snapshot: Callable[[], CronStatus | None],
        vehicle_status: Callable[[int], VehiclePollStatus | None] | None = None,
    ) -> None:
        """Show this cron's status, and the selected car's next read (whoever starts the
        cron calls this)."""
        self.cron_label.set_source(snapshot, vehicle_status)
        self._follow_selected_car()

    def _follow_selected_car(self) -> None:
        row = self._fleet.current_row()
        if row is None or row.connection_type != "smartcar":
            self.cron_label.show_vehicle(None)
        else:
            self.cron_label.show_vehicle(row.id, row.name)

    # Map ----------------------------------------------------------------------------
    def _map_placeholder(self) -> QLabel:
        return QLabel("The map loads when this tab is opened.")

    def _on_left_tab(self, index: int) -> None:
        if index == 1:
            self.ensure_map()

    def ensure_map(self) -> FleetMapView:
        """Build the map page (once) and give it the whole fleet."""
        if self.map is None:
            demo = self._parts.context.settings.demo
            self.map = FleetMapView(self.tiles, (demo.center_lat, demo.center_lon))
            self.map.vehicle_clicked.connect(self._on_marker_clicked)
            placeholder = self.left_tabs.widget(1)
            assert placeholder is not None  # __init__ added it; only this (once) replaces it
            current = self.left_tabs.currentIndex()
            self.left_tabs.removeTab(1)
            self.left_tabs.insertTab(1, self.map, "Map")
            self.left_tabs.setCurrentIndex(current)
            placeholder.deleteLater()
            self.map.set_only(self._map_only, self._fleet.model.rows)
            self.map.focus(self._fleet.current_vehicle_id())
            context = self._parts.context
            if context.zones is not None:
                refusal = context.access.refusal(Capability.ZONES)
                self.zone_editing = ZoneEditing(
                    self.map.zones,
                    context.zones,
                    refusal=refusal,
                    show_message=self._parts.show_message,
                )
        return self.map

    def set_map_only(self, vehicle_ids: frozenset[int] | None) -> None:
        """Show only these vehicles on the map (the quick lists' "open tasks" filter)."""
        if vehicle_ids != self._map_only:
            self._map_only = vehicle_ids
            if self.map is not None:
                self.map.set_only(vehicle_ids, self._fleet.model.rows)

    def _push_all(self) -> None:
        if self.map is not None:
            self.map.set_rows(self._fleet.model.rows)

    def _push_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self.map is not None:
            self.map.update_rows(self._fleet.model.rows[first : last + 1])

    def _push_changed(self, top: QModelIndex, bottom: QModelIndex, *_roles: object) -> None:
        # A whole-row change is a refreshed vehicle; a one-column change over every row is
        # the list's age tick, which moves no marker.
        if self.map is not None and top.column() == 0:
            self.map.update_rows(self._fleet.model.rows[top.row() : bottom.row() + 1])

    def _on_marker_clicked(self, vehicle_id: int) -> None:
        if not self._fleet.select_vehicle(vehicle_id):
            self._parts.show_message("That vehicle is hidden by the list's search or filters", 5000)

    # Selection ----------------------------------------------------------------------
    def _on_selection(self, *_: object) -> None:
        vehicle_id = self._fleet.current_vehicle_id()
        self._follow_selected_car()
        if self.map is not None:
            self.map.focus(vehicle_id)
        self._update_charts()

    def _update_charts(self) -> None:
        if self.right_tabs.currentWidget() is self.charts:
            row = self._fleet.current_row()
            self.charts.show_vehicle(row.id if row else None, row.kind if row else None)

    # Shutdown -----------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._parts.owner and event.type() == QEvent.Type.Close:
            self._close()
        return False

    def _close(self) -> None:
        self.cron_label.timer.stop()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.map is not None and self.map.view is not None:
            closing = self.map.handler.aclose()  # cancels tile downloads, closes the client
        elif self.tiles.fetcher is not None:
            closing = self.tiles.fetcher.aclose()
        else:
            return
        task = loop.create_task(closing, name="close map tiles")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _latest(reads: TelemetryReads, vehicle_id: int) -> Latest | None:
    return readouts_of(await reads.latest(vehicle_id))
