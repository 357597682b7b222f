"""What the main window lends the helpers that add features to it, instead of itself.

A helper (connections, IoT, operations, telemetry views, review export, route replay,
live updates) gets the services, the widgets it puts its parts into, and a few
callbacks on the fleet list; never the window. So no helper reaches into the window's
layout or its other helpers, and ``main_window`` imports the helpers, not the other way
round (the layering contract in pyproject.toml checks that there is no cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QTableView, QToolBar, QWidget

from app.models.vehicles import VehicleRow
from app.services.wiring.context import AppContext
from app.views.dialogs import Confirm
from app.views.item_models.vehicle_filter_proxy import VehicleFilterProxy
from app.views.item_models.vehicle_table_model import VehicleTableModel
from app.views.vehicle_detail import VehicleDetailPanel


@dataclass(frozen=True)
class FleetList:
    """The fleet list as helpers may use it: read the selection, select, refresh a row."""

    model: VehicleTableModel
    proxy: VehicleFilterProxy
    table: QTableView
    current_row: Callable[[], VehicleRow | None]
    current_vehicle_id: Callable[[], int | None]
    select_vehicle: Callable[[int], bool]
    refresh_vehicle: Callable[[VehicleRow], None]
    show_archived: Callable[[], bool]


@dataclass(frozen=True)
class WindowParts:
    """``owner`` parents the helpers' actions and windows (and is watched for its close);
    ``show_message`` writes to the status bar."""

    owner: QWidget
    context: AppContext
    fleet: FleetList
    detail: VehicleDetailPanel
    toolbar: QToolBar
    confirm: Confirm
    show_message: Callable[..., None]
