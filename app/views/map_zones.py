"""Zones on a map page: polygons coloured by kind, a legend, and (on the fleet map) the
tools to draw, edit and delete them.

The page side is resources/map/zones.js, drawing through Leaflet-Geoman (served by
map_scheme from the npm folder make installs). :class:`ZoneLayer` is what the page's
owner talks to: it shows ``ZoneShape`` lists and emits what the operator did
(``zone_drawn``, ``zone_edited``, ``zone_deleted``); it saves nothing itself, so the
owner (the zones service) validates, stores and shows the zones again. The name and
kind of a new zone, and the confirmation of a deletion, are asked with dialogs awaited
on the loop (``run_dialog``), never ``exec()``.

The tools are disabled, with the reason shown beside them, when the signed-in role may
not edit zones (``set_refusal``) or the plugin is not installed.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QToolBar,
    QWidget,
)

from app.models.zones import ZoneShape
from app.views.dialogs import ask, run_dialog
from app.views.map_host import MapPageView, js_value
from app.views.map_scheme import drawing_unavailable

logger = logging.getLogger(__name__)

SCRIPT = "zones.js"  # below resources/map/
KINDS = {  # kind -> what the legend and the dialog call it
    "service_area": "Service area",
    "parking": "Parking",
    "no_parking": "No parking",
    "slow": "Slow zone",
}
STYLES = {  # Leaflet path options per kind: the service area is an outline only
    "service_area": {"color": "#1f6fb2", "weight": 3, "fill": False, "dashArray": "8 6"},
    "parking": {"color": "#2e7d32", "weight": 2, "fillColor": "#43a047", "fillOpacity": 0.25},
    "no_parking": {"color": "#c62828", "weight": 2, "fillColor": "#e53935", "fillOpacity": 0.25},
    "slow": {"color": "#ef8f00", "weight": 2, "fillColor": "#ffb300", "fillOpacity": 0.25},
}
PAGE_OPTIONS = {"styles": STYLES, "labels": KINDS}

Ring = list[tuple[float, float]]


def shape_record(shape: ZoneShape) -> dict[str, object]:
    """What the page draws of one zone (its name escaped: tooltips are HTML)."""
    return {
        "id": shape.id,
        "name": html.escape(shape.name),
        "kind": shape.kind,
        "ring": [[lon, lat] for lon, lat in shape.ring],
    }


def ring_of(ring_json: str) -> Ring:
    """The page's ``[[lon, lat], ...]`` as our ring (tuples of floats)."""
    return [(float(lon), float(lat)) for lon, lat in json.loads(ring_json)]


class ZoneBridge(QObject):
    """The page's ``zones`` QWebChannel object: what the operator did on the map."""

    drawn = Signal(str)
    edited = Signal(int, str)
    delete_asked = Signal(int)
    draw_ended = Signal()

    @Slot(str)
    def zoneDrawn(self, ring_json: str) -> None:
        self.drawn.emit(ring_json)

    @Slot(int, str)
    def zoneEdited(self, zone_id: int, ring_json: str) -> None:
        self.edited.emit(zone_id, ring_json)

    @Slot(int)
    def deleteAsked(self, zone_id: int) -> None:
        self.delete_asked.emit(zone_id)

    @Slot()
    def drawEnded(self) -> None:
        self.draw_ended.emit()


class ZoneDialog(QDialog):
    """Name and kind of a zone just drawn; OK only with a name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("zoneDialog")
        self.setWindowTitle("New zone")
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.name.setObjectName("zoneName")
        self.kind = QComboBox()
        self.kind.setObjectName("zoneKind")
        for kind, label in KINDS.items():
            self.kind.addItem(label, kind)
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.name.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))

    def answer(self) -> tuple[str, str]:
        return self.name.text().strip(), str(self.kind.currentData())


class ZoneLayer(QObject):
    """The zones of one map page (read-only unless ``editable``).

    Signals:
        zone_drawn(str, str, list): name, kind and ring of a zone drawn and named.
        zone_edited(int, list): a zone's id and its ring after its vertices were moved.
        zone_deleted(int): the id of a zone whose deletion was confirmed.
    """

    zone_drawn = Signal(str, str, list)
    zone_edited = Signal(int, list)
    zone_deleted = Signal(int)

    def __init__(self, page: MapPageView, *, editable: bool) -> None:
        super().__init__(page)
        self.page = page
        self.editable = editable
        self.shapes: list[ZoneShape] = []
        self.names: dict[int, str] = {}
        self.visible = True
        self._tasks: set[asyncio.Task[None]] = set()
        self.bridge = ZoneBridge(self)
        if page.view is not None and editable:
            page.view.page().webChannel().registerObject("zones", self.bridge)
        self.bridge.drawn.connect(self._on_drawn)
        self.bridge.edited.connect(self._on_edited)
        self.bridge.delete_asked.connect(self._on_delete_asked)
        page.ready.connect(self._on_ready)
        self.tools = ZoneTools(self) if editable else None

    # Owner in -------------------------------------------------------------------------
    def show_zones(self, shapes: Iterable[ZoneShape]) -> None:
        """Every zone to draw (replaces what is drawn)."""
        self.shapes = list(shapes)
        self.names = {s.id: s.name for s in self.shapes if s.id is not None}
        self._push()

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        if self.page.is_ready:
            self.page.run_js(f"fleetZones.setVisible({js_value(visible)})")

    def set_refusal(self, reason: str | None) -> None:
        """Why this person may not draw or edit zones (None: they may)."""
        if self.tools is not None:
            self.tools.set_refusal(reason)

    def set_mode(self, mode: str) -> None:
        """ "view", "draw", "edit" or "delete" (the tools call this)."""
        if self.page.is_ready:
            self.page.run_js(f"fleetZones.setMode({js_value(mode)})")

    # Page -----------------------------------------------------------------------------
    def _push(self) -> None:
        if self.page.is_ready:
            records = [shape_record(s) for s in self.shapes]
            self.page.run_js(f"fleetZones.show({js_value(records)})")

    def _on_ready(self) -> None:
        self._push()
        if not self.visible:
            self.set_visible(False)

    def _on_drawn(self, ring_json: str) -> None:
        self._spawn(self._name_new_zone(ring_of(ring_json)))

    def _on_edited(self, zone_id: int, ring_json: str) -> None:
        self.zone_edited.emit(zone_id, ring_of(ring_json))

    def _on_delete_asked(self, zone_id: int) -> None:
        self._spawn(self._confirm_delete(zone_id))

    async def _name_new_zone(self, ring: Ring) -> None:
        dialog = ZoneDialog(self.page)
        try:
            if await run_dialog(dialog) == QDialog.DialogCode.Accepted:
                name, kind = dialog.answer()
                self.zone_drawn.emit(name, kind, ring)
        finally:
            dialog.deleteLater()

    async def _confirm_delete(self, zone_id: int) -> None:
        name = self.names.get(zone_id, f"zone {zone_id}")
        if await ask(self.page, "Delete zone", f"Delete the zone {name}?"):
            self.zone_deleted.emit(zone_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work, name="zone dialog")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class ZoneTools(QToolBar):
    """Above the fleet map: show/hide zones, and draw / edit / delete (one mode at a
    time, none checked = just looking). Disabled with the reason when refused."""

    def __init__(self, layer: ZoneLayer) -> None:
        super().__init__("Zones")
        self.setObjectName("zoneTools")
        self.layer = layer
        self.show_action = QAction("Zones", self, checkable=True, checked=True)
        self.show_action.setObjectName("zonesShown")
        self.show_action.setToolTip("Show or hide the zones and their legend")
        self.show_action.toggled.connect(layer.set_visible)
        self.addAction(self.show_action)
        self.modes = QActionGroup(self)
        self.modes.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.mode_actions: dict[str, QAction] = {}
        self._tips: dict[str, str] = {}
        for mode, text, tip in (
            ("draw", "Draw zone", "Click the corners on the map; click the first to finish"),
            ("edit", "Edit vertices", "Drag a zone's corners; right-click one to remove it"),
            ("delete", "Delete zone", "Click the zone to delete (you are asked first)"),
        ):
            action = QAction(text, self, checkable=True)
            action.setObjectName(f"zone_{mode}")
            action.setToolTip(tip)
            self.modes.addAction(action)
            self.addAction(action)
            self.mode_actions[mode] = action
            self._tips[mode] = tip
        self.modes.triggered.connect(self._mode_chosen)
        layer.bridge.draw_ended.connect(self._draw_ended)
        self.reason = QLabel()
        self.reason.setObjectName("zoneToolsReason")
        self.reason.setWordWrap(True)
        self.addWidget(self.reason)
        self.refusal: str | None = None
        self.set_refusal(None)

    def set_refusal(self, reason: str | None) -> None:
        self.refusal = reason or drawing_unavailable()
        for mode, action in self.mode_actions.items():
            if self.refusal is not None and action.isChecked():
                action.setChecked(False)
                self.layer.set_mode("view")
            action.setEnabled(self.refusal is None)
            action.setToolTip(self.refusal or self._tips[mode])
        self.reason.setText(self.refusal or "")
        self.reason.setVisible(self.refusal is not None)

    def _mode_chosen(self) -> None:
        checked = self.modes.checkedAction()
        mode = next((m for m, a in self.mode_actions.items() if a is checked), "view")
        self.layer.set_mode(mode)

    def _draw_ended(self) -> None:
        draw = self.mode_actions["draw"]
        if draw.isChecked():
            draw.setChecked(False)
