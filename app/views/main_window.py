"""The main window: fleet list with search and filters, detail panel, status bar.

Loading the list, saving and archiving run on the database thread; the window stays
responsive and says what it is doing in the status bar. Geometry, splitter and column
layout are remembered between sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.vehicles import VehicleRow
from app.services.access import Capability
from app.services.wiring.context import AppContext
from app.views import formatting as fmt
from app.views.connection_actions import ConnectionActions
from app.views.dialogs import Confirm, ask
from app.views.iot_actions import IotActions
from app.views.item_models.vehicle_filter_proxy import VehicleFilter, VehicleFilterProxy
from app.views.item_models.vehicle_table_model import VEHICLE_ID_ROLE, VehicleTableModel
from app.views.list_layout import HEADER_STATE_KEY, initial_size, lay_out_columns
from app.views.notification_status import NotificationStatusLabel
from app.views.operations_actions import OperationsActions
from app.views.quick_lists import QuickLists
from app.views.review_export_dialog import ReviewExport
from app.views.route_replay import RouteReplayActions
from app.views.storage_status import StorageStatusLabel
from app.views.telemetry_views import TelemetryViews
from app.views.vehicle_detail import VehicleDetailPanel
from app.views.vehicle_dialog import VehicleDialog
from app.views.window_parts import FleetList, WindowParts
from app.views.window_state import window_state
from app.views.worker_status import WorkerStatusLabel

if TYPE_CHECKING:
    from app.views.live_updates import LiveUpdates
    from app.views.shared_feed import ChangeFeedView

logger = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The console's main window.

    Signals:
        fleet_loaded(int): the list shows this many vehicles after a (re)load.
        quit_requested(): File → Quit (Ctrl+Q) or the window closed; main.py then stops
            the workers (bounded, stores flushed) and ends the loop.
    """

    fleet_loaded = Signal(int)
    quit_requested = Signal()

    def __init__(self, context: AppContext, *, confirm: Confirm = ask) -> None:
        super().__init__()
        self.context = context
        self.confirm = confirm
        self._last_archived: VehicleRow | None = None
        #: Coalesced row refreshes as telemetry arrives; main.py sets it unless read-only.
        self.live_updates: LiveUpdates | None = None
        #: The shared database's change feed; shared_feed.start_change_feed sets it.
        self.change_feed: ChangeFeedView | None = None
        self.setWindowTitle(f"Fleet Console — {context.mode.value} mode")
        self.setObjectName("mainWindow")
        self.resize(initial_size(self.screen().availableGeometry()))

        self.model = VehicleTableModel(self)
        self.proxy = VehicleFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.table = QTableView()
        self.table.setObjectName("vehicleTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionsMovable(True)
        lay_out_columns(self.table)  # status, energy, last heard first (list_layout.py)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.doubleClicked.connect(lambda _index: self.edit_vehicle())

        self.detail = VehicleDetailPanel()
        list_pane = self._build_list_pane()
        # The window owns the menu bar; each helper gets the menu its entries go into.
        self.file_menu = self.menuBar().addMenu("&File")
        operations_menu = self.menuBar().addMenu("&Operations")
        view_menu = self.menuBar().addMenu("&View")
        toolbar = self._build_actions()
        self._build_status_bar()
        self.fleet = FleetList(
            model=self.model,
            proxy=self.proxy,
            table=self.table,
            current_row=self.current_row,
            current_vehicle_id=self.current_vehicle_id,
            select_vehicle=self.select_vehicle,
            refresh_vehicle=self.refresh_vehicle,
            show_archived=self.show_archived.isChecked,
        )
        parts = WindowParts(
            owner=self,
            context=context,
            fleet=self.fleet,
            detail=self.detail,
            toolbar=toolbar,
            confirm=confirm,
            show_message=self.statusBar().showMessage,
        )
        # Map, charts, readouts and cron status, with the list and the details in tabs.
        self.telemetry_views = TelemetryViews(parts, list_pane)
        self.statusBar().addPermanentWidget(self.telemetry_views.cron_label)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.telemetry_views.left_tabs)
        self.splitter.addWidget(self.telemetry_views.right_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([self.width() * 2 // 3, self.width() // 3])
        self.setCentralWidget(self.splitter)
        self.connections = ConnectionActions(parts)  # Smartcar panel + Connections view
        # File → Export for Offline Review (issue 8).
        self.review_export = ReviewExport(parts, self.file_menu)
        self.iot = IotActions(parts)  # IoT device panel + Unknown devices (issue 6)
        # Rentals, alerts, audit (issue 7).
        self.operations = OperationsActions(parts, operations_menu, self.alerts_first)
        # Route Replay… Ctrl+Shift+P (issue 8).
        self.route_replay = RouteReplayActions(parts, view_menu)
        self.quick_lists.map_only_changed.connect(self.telemetry_views.set_map_only)
        self.fleet_loaded.connect(lambda _count: self.quick_lists.refresh())
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)  # last in File, after the helpers' entries

        self._age_timer = QTimer(self)
        self._age_timer.setInterval(30_000)
        self._age_timer.timeout.connect(self._tick)
        self._age_timer.start()
        self._restore_state()

    # Layout -------------------------------------------------------------------------
    def _build_list_pane(self) -> QWidget:
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText(
            "Search name, fleet no., plate, VIN, IMEI, make/model  (Ctrl+F)"
        )
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.kind_filter = self._filter_combo("kindFilter", "All kinds", fmt.KIND_LABELS)
        self.connection_filter = self._filter_combo(
            "connectionFilter",
            "All connections",
            {"smartcar": "Smartcar", "iot": "IoT", "none": "None"},
        )
        self.status_filter = self._filter_combo("statusFilter", "All statuses", fmt.STATUS_LABELS)
        self.show_archived = QCheckBox("Show archived")
        self.show_archived.setObjectName("showArchived")
        self.show_archived.toggled.connect(lambda _on: self.reload())
        # "Alerts first": wired by OperationsActions (alerts_first.py, issue 7).
        self.alerts_first = QCheckBox("Alerts first")
        self.alerts_first.setObjectName("alertsFirst")
        self.alerts_first.setToolTip("List vehicles with open alerts at the top")
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        for widget in (
            self.kind_filter,
            self.connection_filter,
            self.status_filter,
            self.show_archived,
            self.alerts_first,
        ):
            bar.addWidget(widget)
        bar.addWidget(self.count_label)
        pane = QWidget()
        # The dispatcher's quick lists with counts (issue #19): one click narrows the list.
        ctx = self.context
        self.quick_lists = QuickLists(
            self.model, ctx.tasks, ctx.alerts, ctx.settings.tasks.battery_swap_below_pct, pane
        )
        self.quick_lists.changed.connect(self._apply_filter)
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.quick_lists.widget)
        layout.addWidget(self.table)
        return pane

    def _filter_combo(self, name: str, any_label: str, labels: dict[str, str]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.addItem(any_label, None)
        for value, text in labels.items():
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._apply_filter)
        return combo

    def _build_actions(self) -> QToolBar:
        toolbar = QToolBar("Vehicles")
        toolbar.setObjectName("vehicleToolbar")
        self.addToolBar(toolbar)
        refusal = self._editing_refusal()
        self.add_action = self._action(
            "&Add Vehicle…", QKeySequence.StandardKey.New, self.add_vehicle
        )
        self.edit_action = self._action("&Edit Vehicle…", "Ctrl+E", self.edit_vehicle)
        self.archive_action = self._action("A&rchive Vehicle", "Ctrl+Delete", self.archive_vehicle)
        self.undo_action = self._action(
            "&Undo Archive", QKeySequence.StandardKey.Undo, self.undo_archive
        )
        self.undo_action.setEnabled(False)
        self.reload_action = self._action("Re&load", QKeySequence.StandardKey.Refresh, self.reload)
        find = self._action("Find", QKeySequence.StandardKey.Find, self._focus_search)
        clear = self._action("Clear search", "Escape", self.search.clear)
        for action in (
            self.add_action,
            self.edit_action,
            self.archive_action,
            self.undo_action,
            self.reload_action,
        ):
            toolbar.addAction(action)
        self.addActions([find, clear])
        for action in (self.add_action, self.edit_action, self.archive_action, self.undo_action):
            action.setEnabled(action is not self.undo_action and refusal is None)
            if refusal is not None:
                action.setToolTip(refusal)
        self._update_selection_actions()
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        if self.quit_action.shortcut().isEmpty():  # a platform without a standard Quit key
            self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.addAction(self.quit_action)
        return toolbar

    def _action(
        self, text: str, shortcut: str | QKeySequence.StandardKey, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.mode_label = QLabel(f"{self.context.mode.value.capitalize()} mode")
        self.mode_label.setObjectName("modeLabel")
        self.database_label = QLabel(self.context.database_label)
        self.signed_in_label = QLabel(self.context.access.label)  # "" when single-user
        self.signed_in_label.setObjectName("signedInLabel")
        self.workers_label = QLabel("")  # live updates in shared mode (shared_feed.py)
        self.workers_label.setObjectName("workersLabel")
        self.worker_status = WorkerStatusLabel()  # the supervisor's truth (worker_status.py)
        for widget in (
            self.mode_label,
            self.signed_in_label,
            self.database_label,
            self.workers_label,
        ):
            bar.addPermanentWidget(widget)
        bar.addPermanentWidget(self.worker_status)
        bar.addPermanentWidget(
            StorageStatusLabel(self.context.telemetry_writer)
        )  # telemetry storage failing
        self.notification_status = NotificationStatusLabel(self.context.notifications)
        bar.addPermanentWidget(self.notification_status)  # e-mail not getting out

    def set_worker_health(self, text: str) -> None:
        """Called by background workers' owners to show their health in the status bar."""
        self.workers_label.setText(text)

    # Loading ------------------------------------------------------------------------
    @asyncSlot()
    async def reload(self) -> None:
        """Read the fleet from the database (on the database thread) and show it."""
        self.reload_action.setEnabled(False)
        self.statusBar().showMessage("Loading fleet…")
        selected = self.current_vehicle_id()
        try:
            rows = await self.context.vehicles.rows(include_archived=self.show_archived.isChecked())
        except Exception as exc:
            logger.exception("loading the fleet failed")
            self.statusBar().showMessage(f"Could not load the fleet: {exc}")
            return
        finally:
            self.reload_action.setEnabled(True)
        self.model.set_rows(rows)
        self._update_count()
        if selected is not None:
            self.select_vehicle(selected)
        self.statusBar().showMessage(f"{len(rows):,} vehicles loaded", 5000)
        self.fleet_loaded.emit(len(rows))

    def refresh_vehicle(self, row: VehicleRow) -> None:
        """Show a changed (or new) vehicle without reloading the fleet."""
        self.model.upsert_row(row)
        if row.id == self.current_vehicle_id():
            self.detail.show_vehicle(row)
        self._update_count()

    # Selection ----------------------------------------------------------------------
    def current_vehicle_id(self) -> int | None:
        index = self.table.currentIndex()
        return index.data(VEHICLE_ID_ROLE) if index.isValid() else None

    def current_row(self) -> VehicleRow | None:
        vehicle_id = self.current_vehicle_id()
        position = self.model.position_of(vehicle_id) if vehicle_id is not None else None
        return self.model.rows[position] if position is not None else None

    def select_vehicle(self, vehicle_id: int) -> bool:
        position = self.model.position_of(vehicle_id)
        if position is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(position, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def _editing_refusal(self) -> str | None:
        """Why vehicles cannot be added, edited or archived here (None: they can)."""
        return self.context.access.refusal(Capability.VEHICLES)

    def _on_current_changed(self, *_: object) -> None:
        self.detail.show_vehicle(self.current_row())
        self._update_selection_actions()

    def _update_selection_actions(self) -> None:
        has = self.current_vehicle_id() is not None and self._editing_refusal() is None
        self.edit_action.setEnabled(has)
        row = self.current_row()
        self.archive_action.setEnabled(has and row is not None and not row.archived)

    # Filtering ----------------------------------------------------------------------
    def _apply_filter(self, *_: object) -> None:
        selected = self.current_vehicle_id()
        self.proxy.set_filter(
            VehicleFilter(
                text=self.search.text(),
                kind=self.kind_filter.currentData(),
                connection=self.connection_filter.currentData(),
                status=self.status_filter.currentData(),
                ids=self.quick_lists.ids(),
            )
        )
        if selected is not None and not self.select_vehicle(selected):
            self.detail.show_vehicle(None)
            self._update_selection_actions()
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(
            f"{shown:,} of {total:,} vehicles" if shown != total else f"{total:,} vehicles"
        )

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _tick(self) -> None:
        self.model.tick()
        self.detail.show_vehicle(self.current_row())

    # Editing ------------------------------------------------------------------------
    def add_vehicle(self) -> VehicleDialog | None:
        if self._editing_refusal() is not None:  # the shortcut, when the action is disabled
            return None
        dialog = VehicleDialog(self.context.vehicles, parent=self)
        dialog.saved.connect(self._after_save)
        dialog.open()
        return dialog

    @asyncSlot()
    async def edit_vehicle(self) -> VehicleDialog | None:
        """Edit Vehicle on the selected one (its fields read on the database thread)."""
        vehicle_id = self.current_vehicle_id()
        if vehicle_id is None or self._editing_refusal() is not None:
            return None
        fields = await self.context.vehicles.fields(vehicle_id)
        if vehicle_id != self.current_vehicle_id():
            return None  # the operator moved on meanwhile
        dialog = VehicleDialog(
            self.context.vehicles, vehicle_id=vehicle_id, initial=fields, parent=self
        )
        dialog.saved.connect(self._after_save)
        dialog.open()
        return dialog

    @asyncSlot(int)
    async def _after_save(self, vehicle_id: int) -> None:
        row = await self.context.vehicles.row(vehicle_id)
        if row is not None:
            self.refresh_vehicle(row)
            self.select_vehicle(vehicle_id)
            self.statusBar().showMessage(f"Saved {row.name} [{row.fleet_number}]", 5000)

    @asyncSlot()
    async def archive_vehicle(self) -> None:
        row = self.current_row()
        if row is None or row.archived or self._editing_refusal() is not None:
            return
        if not await self.confirm(
            self,
            "Archive vehicle",
            f"Archive {row.name} [{row.fleet_number}]?\n\nIt leaves the list; its history is "
            "kept and it can be restored (Undo, or Show archived → Edit).",
        ):
            return
        await self._set_archived(row, True)
        self._last_archived = row
        self.undo_action.setEnabled(True)
        self.statusBar().showMessage(
            f"Archived {row.name} [{row.fleet_number}] — Ctrl+Z to undo", 10_000
        )

    @asyncSlot()
    async def undo_archive(self) -> None:
        row, self._last_archived = self._last_archived, None
        self.undo_action.setEnabled(False)
        if row is not None:
            await self._set_archived(row, False)
            self.select_vehicle(row.id)
            self.statusBar().showMessage(f"Restored {row.name} [{row.fleet_number}]", 5000)

    async def _set_archived(self, row: VehicleRow, archived: bool) -> None:
        try:
            await self.context.vehicles.set_archived(row.id, archived)
        except Exception as exc:
            logger.exception("archiving failed")
            self.statusBar().showMessage(f"Could not change {row.name}: {exc}")
            return
        await self.reload()

    # State --------------------------------------------------------------------------
    def _settings(self) -> QSettings:
        return window_state(self.context.paths)

    def _restore_state(self) -> None:
        settings = self._settings()
        settings.remove("header")  # v1 of the list header: see list_layout.py
        for key, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("splitter", self.splitter.restoreState),
            (HEADER_STATE_KEY, self.table.horizontalHeader().restoreState),
        ):
            value = settings.value(key)
            if value is not None:
                restore(value)

    def save_state(self) -> None:
        settings = self._settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue(HEADER_STATE_KEY, self.table.horizontalHeader().saveState())
        self.operations.save_state(settings)
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quit, Ctrl+Q, the window's close button and SIGTERM all end up here."""
        self.save_state()
        super().closeEvent(event)
        self.quit_requested.emit()
