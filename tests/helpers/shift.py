"""A dispatcher's shift (issue #13), step by step, through the console's real widgets.

One module for both users so they never drift: tests/gui/test_shift.py runs every step
once and asserts it, tests/benchmarks/bench_soak.py repeats them for half an hour. Each
step is a coroutine taking the live MainWindow; it waits on conditions (never on a
guessed time) and raises AssertionError saying what the operator would have seen.
Confirmations and reason prompts are answered on screen by
:class:`tests.helpers.dialog_answerer.DialogAnswerer`, which the steps then question
about how each box was opened.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QPushButton, QToolBar, QWidget
from sqlalchemy import func, select

from app.models.orm import TelemetrySample
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.services.connections.backends import DEMO_OWNER_EMAIL
from app.views import formatting as fmt
from app.views.main_window import MainWindow
from tests.gui.connect_helpers import allow, js, open_connect
from tests.helpers.dialog_answerer import Answered, DialogAnswerer
from tests.helpers.waiting import until

WAIT_S = 30.0  # a step's own waits; the simulators answer in milliseconds
LONG_HISTORY = 240  # samples, 5 min apart: 20 hours, inside the charts' default 24 h
OVERVIEW_ZOOM = 11  # well below the map's uncluster zoom (16): the demo city in clusters
ZOOM_CLICK = (  # what a click on Leaflet's "−" button does; false when there is none
    "(b => (b ? (b.click(), true) : false))(document.querySelector('.leaflet-control-zoom-out'))"
)
ZOOM_LOG = (  # every zoom level the map settles on, to tell "did nothing" from "jumped back"
    "window.shiftZooms || (window.shiftZooms = [],"
    " fleetMap.map().on('zoomend', () => window.shiftZooms.push(fleetMap.map().getZoom())),"
    " true)"
)
QUIT_KEYS = QKeySequence("Ctrl+Q")  # StandardKey.Quit is empty on some platforms
GATE_OUTCOMES = ("Ready", "Cannot start", "Needs your judgement")  # rental_views.py
OVERRIDE_REASON = "seen parked on the depot camera"  # what a dispatcher would type
POLL_S = 0.1  # how often a condition read from the database or the page is checked


def cars(window: MainWindow) -> list[Any]:
    return [r for r in window.model.rows if r.kind == "car" and r.vin]


def scooters(window: MainWindow) -> list[Any]:
    return [r for r in window.model.rows if r.kind == "scooter" and r.connection_type == "iot"]


async def select_vehicle(window: MainWindow, vehicle_id: int) -> None:
    """Select the vehicle in the fleet list, as a click on its row does."""
    assert window.select_vehicle(vehicle_id), f"vehicle {vehicle_id} is not in the list"
    await until(lambda: window.current_vehicle_id() == vehicle_id, WAIT_S, "the selection")


async def _until_saying(predicate: Any, what: str, seen: Any) -> None:
    """``until``, failing with what was on screen at the deadline (``seen()``)."""
    try:
        await until(predicate, WAIT_S, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {seen()}") from None


def _confirmed(answers: list[Answered], what: str) -> None:
    """Exactly one awaited Yes/Cancel box (house rule 6), Cancel the default."""
    assert answers, f"{what}: no confirmation was asked"
    for answer in answers:
        assert not answer.nested, f"{what}: {answer.describe()}"
        assert answer.object_name == "confirmBox", f"{what}: {answer.describe()}"
        assert answer.cancel_is_default, f"{what}: Enter would confirm {answer.title!r}"


# -- Smartcar ------------------------------------------------------------------------------


async def connect_car(window: MainWindow, vehicle_id: int) -> None:
    """Connect Car in the embedded Connect page; the first data shows with no Refresh."""
    panel = window.connections.panel
    dialog = await open_connect(window, vehicle_id)
    await allow(dialog, DEMO_OWNER_EMAIL)
    await until(lambda: panel.dialog is None, WAIT_S, "the Connect dialog to close")
    await until(lambda: panel.status.text() == "● Active", WAIT_S, "the connection Active")
    readouts = window.detail.readouts
    await until(
        lambda: (
            window.current_vehicle_id() == vehicle_id
            and readouts.text("odometer") != fmt.WAITING
            and readouts.text("location") != fmt.WAITING
        ),
        WAIT_S,
        "the car's first data in the detail panel without pressing Refresh now",
    )


async def lock_unlock_car(window: MainWindow, answerer: DialogAnswerer, vehicle_id: int) -> None:
    """Remote Lock and Unlock from the detail panel, each confirmed in the real box."""
    await select_vehicle(window, vehicle_id)
    status = window.findChild(QWidget, "remoteCommandStatus")
    buttons = {a: window.findChild(QPushButton, n) for a, n in _CAR_BUTTONS.items()}
    await _until_saying(
        lambda: buttons["lock"].isVisible(),
        "the Remote commands panel",
        lambda: (
            f"the list says connection {window.current_row().connection_status!r},"
            f" the panel {window.connections.panel.status.text()!r}"
        ),
    )
    await until(
        lambda: buttons["lock"].isEnabled() or buttons["unlock"].isEnabled(),
        WAIT_S,
        "a Lock or Unlock button enabled",
    )
    order = ("lock", "unlock") if buttons["lock"].isEnabled() else ("unlock", "lock")
    for action in order:
        mark = len(answerer.answered)
        await until(lambda a=action: buttons[a].isEnabled(), WAIT_S, f"{action} enabled")
        buttons[action].click()
        done = _CAR_DONE[action]
        await until(
            lambda d=done: status.text().startswith((d, "Failed", "Cancelled")),
            WAIT_S,
            f"the {action} outcome",
        )
        _confirmed(answerer.since(mark, "confirm"), f"car {action}")
        assert status.text().startswith(done), f"car {action}: {status.text()}"


_CAR_BUTTONS = {"lock": "remoteLock", "unlock": "remoteUnlock"}
_CAR_DONE = {"lock": "Locked ✓", "unlock": "Unlocked ✓"}


# -- rentals -------------------------------------------------------------------------------


def _window_named(name: str) -> Any:
    """The visible top-level window with this objectName, or None."""
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and widget.objectName() == name:
            return widget
    return None


async def park_at_the_demo_centre(window: MainWindow, vehicle_id: int) -> None:
    """The customer parks the car in the demo's "Parking Centre" zone (at the demo city's
    centre): check-out is refused outside every parking zone, as in the field."""
    context = window.context
    simulator = context.backends.simulator
    assert simulator is not None, "the demo console runs the Smartcar simulator"
    vin = next(r.vin for r in window.model.rows if r.id == vehicle_id)
    demo = context.settings.demo
    place = {"activity": "parked", "lat": demo.center_lat, "lon": demo.center_lon}
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=10.0) as sim:
        (await sim.post(f"/_sim/vehicles/{vin}/state", json=place)).raise_for_status()


async def rental_round_trip(window: MainWindow, vehicle_id: int) -> None:
    """Start a rental (gate, unlock), then check it out from the board and see the bill."""
    await select_vehicle(window, vehicle_id)
    window.operations.actions["start_rental"].trigger()
    await until(lambda: _window_named("rentalStartDialog"), WAIT_S, "the Start rental dialog")
    start = _window_named("rentalStartDialog")
    await until(lambda: start.status.text().startswith(GATE_OUTCOMES), WAIT_S, "the rental gate")
    if start.status.text().startswith("Needs your judgement"):  # e.g. motion unknown
        start.override.setText(OVERRIDE_REASON)
    assert start.start_button.isEnabled(), start.status.text()
    start.customer.setText("shift test")
    start.start_button.click()
    await until(
        lambda: start.rental is not None or not start.status.text().startswith("Starting"),
        WAIT_S,
        "the rental to start",
    )
    assert start.rental is not None, start.status.text()
    rental_id = start.rental.id
    start.close()

    window.operations.actions["board"].trigger()
    board = _window_named("rentalsBoard")
    assert board is not None, "the Rentals board did not open"
    row = await _table_row(board.active, rental_id, "the rental on the board")
    await park_at_the_demo_centre(window, vehicle_id)
    board.active.selectRow(row)
    board.checkout_button.click()
    await until(lambda: _window_named("checkoutDialog"), WAIT_S, "the Check out dialog")
    checkout = _window_named("checkoutDialog")
    checkout.checkout_button.click()
    await until(
        lambda: f"Rental #{rental_id}" in checkout.result_text.toPlainText(),
        WAIT_S,
        "the receipt",
    )
    receipt = checkout.result_text.toPlainText()
    assert "Not billed yet" not in receipt, receipt
    checkout.close()
    await _table_row(board.history, rental_id, "the ended rental in the history")
    board.close()


async def _table_row(table: Any, record_id: int, what: str) -> int:
    def row() -> int | None:
        for r in range(table.rowCount()):
            item = table.item(r, 0)
            if item is not None and item.text() == str(record_id):
                return r
        return None

    await until(lambda: row() is not None, WAIT_S, what)
    found = row()
    assert found is not None
    return found


# -- IoT -----------------------------------------------------------------------------------


async def lock_scooter(window: MainWindow, answerer: DialogAnswerer, vehicle_id: int) -> None:
    """Lock a scooter through its IoT device (unlocking it first if it is locked)."""
    await select_vehicle(window, vehicle_id)
    panel = window.iot.panel
    await _until_saying(
        lambda: panel.isVisible() and panel.device is not None,
        "the IoT panel",
        lambda: f"panel visible {panel.isVisible()}, device {panel.device!r}",
    )
    buttons = {a: window.findChild(QPushButton, f"iot_{a}") for a in ("lock", "unlock")}
    await until(
        lambda: (
            panel.values["online"].text() == "Online"
            and (buttons["lock"].isEnabled() or buttons["unlock"].isEnabled())
        ),
        WAIT_S,
        "the scooter online with Lock or Unlock enabled",
    )
    steps = ("lock",) if buttons["lock"].isEnabled() else ("unlock", "lock")
    for action in steps:
        mark = len(answerer.answered)
        await until(lambda a=action: buttons[a].isEnabled(), WAIT_S, f"scooter {action} enabled")
        buttons[action].click()
        label = action.capitalize()
        await until(
            lambda x=label: panel.outcome.text().startswith(
                (f"{x} confirmed", f"{x} failed", f"{x} timed out", f"{x} not sent", f"{x} ref")
            ),
            WAIT_S,
            f"the scooter {action} outcome",
        )
        _confirmed(answerer.since(mark, "confirm"), f"scooter {action}")
        assert panel.outcome.text().startswith(f"{label} confirmed"), panel.outcome.text()


# -- map and charts ------------------------------------------------------------------------


async def map_overview(window: MainWindow, vehicle_id: int, updates: Any) -> None:
    """Zoom the map out with a vehicle selected: clusters show, and stay while data flows.

    ``updates()`` counts list rows refreshed by live telemetry; the step waits until more
    arrived after the zoom and were pushed to the page before it looks again.
    """
    views = window.telemetry_views
    views.left_tabs.setCurrentIndex(1)
    fleet_map = views.ensure_map()
    await until(lambda: fleet_map.is_ready, WAIT_S, "the map page")
    await select_vehicle(window, vehicle_id)
    await _painted(fleet_map, "selected")
    await _map_js(fleet_map, ZOOM_LOG)
    zoom = await _map_js(fleet_map, "fleetMap.map().getZoom()")
    while zoom > OVERVIEW_ZOOM:  # the real zoom control, one level per click
        settled = len(await _map_js(fleet_map, "window.shiftZooms"))
        assert await _map_js(fleet_map, ZOOM_CLICK), "the map has no zoom-out control"
        previous, deadline = zoom, _now() + WAIT_S
        # getZoom() names the target as soon as an animated zoom starts, and a click
        # during the animation is ignored: the zoom is done when zoomend is logged.
        while len(zooms := await _map_js(fleet_map, "window.shiftZooms")) == settled:
            assert _now() < deadline, f"the zoom-out control did nothing at zoom {zoom}"
            await asyncio.sleep(POLL_S)
        zoom = await _map_js(fleet_map, "fleetMap.map().getZoom()")
        assert zoom < previous, f"zoomed out to {zooms[-1]} but the map went back to {zoom}"
    refreshed = updates()
    await until(lambda: updates() > refreshed, WAIT_S, "live updates after the zoom")
    await _painted(fleet_map, "after updates")
    zoom = await _map_js(fleet_map, "fleetMap.map().getZoom()")
    assert zoom <= OVERVIEW_ZOOM, f"the map jumped back to zoom {zoom} after a data update"
    # The demo devices report over the first seconds: a fast walk (V3 Connect needs no
    # poll) reaches this step before enough vehicles have a position to cluster.
    deadline = _now() + WAIT_S
    while not await _map_js(fleet_map, "fleetMap.clusterCounts()"):
        assert _now() < deadline, "no clusters on the zoomed-out map"
        await asyncio.sleep(POLL_S)
    assert await _map_js(fleet_map, "fleetMap.highlightedId()") == vehicle_id
    views.left_tabs.setCurrentIndex(0)


async def _painted(fleet_map: Any, token: str) -> None:
    seen: list[str] = []
    fleet_map.painted.connect(seen.append)
    try:
        fleet_map.flush(token)
        await until(lambda: token in seen, WAIT_S, f"map frame {token!r}")
    finally:
        fleet_map.painted.disconnect(seen.append)


async def _map_js(fleet_map: Any, script: str) -> Any:
    return json.loads(await js(fleet_map.view.page(), f"JSON.stringify({script})"))


def seed_history(window: MainWindow, one_sample: int, long_history: int) -> None:
    """One reading for one car, LONG_HISTORY for another (blocking: call via database.run)."""
    now = datetime.now(UTC)

    def reading(vehicle_id: int, at: datetime, i: int) -> TelemetryReading:
        return TelemetryReading(
            vehicle_id, "smartcar", at, at, fuel=90.0 - i * 0.25, odometer=1000.0 + i
        )

    readings = [reading(one_sample, now - timedelta(minutes=30), 0)]
    start = now - timedelta(hours=20)
    readings += [
        reading(long_history, start + timedelta(minutes=5 * i), i) for i in range(LONG_HISTORY)
    ]
    TelemetryStore(window.context.database, heartbeat_s=None).write_batch(readings)


async def open_charts(window: MainWindow, one_sample: int, long_history: int) -> None:
    """The Charts tab of both cars shows exactly the stored samples, a lone one visibly."""
    views = window.telemetry_views
    charts = views.charts
    for vehicle_id, expected in ((long_history, LONG_HISTORY), (one_sample, 1)):
        loaded: list[int] = []
        charts.loaded.connect(loaded.append)
        try:
            await select_vehicle(window, vehicle_id)
            views.right_tabs.setCurrentWidget(charts)
            what = f"the charts of vehicle {vehicle_id}"
            await until(lambda v=vehicle_id, seen=loaded: v in seen, WAIT_S, what)
        finally:
            charts.loaded.disconnect(loaded.append)
        curve = charts.curves["fuel"]
        _x, y = curve.getData()
        finite = y[np.isfinite(y)] if y is not None else np.empty(0)
        assert finite.size == expected, f"vehicle {vehicle_id}: {finite.size} fuel points drawn"
        assert finite[0] == 90.0, finite[:3]
        if expected == 1:  # a single point draws no line: it must show as a symbol
            assert curve.scatter.isVisible() and len(curve.scatter.points()) == 1, (
                "the one-sample chart draws nothing"
            )
        views.right_tabs.setCurrentIndex(0)


# -- tool windows and health ---------------------------------------------------------------


def tool_actions(window: MainWindow) -> list[QAction]:
    """Every menu-bar action and every toolbar action that opens a window (text "…")."""
    found: list[QAction] = []
    for top in window.menuBar().actions():
        menu = top.menu()
        found += [a for a in (menu.actions() if menu else ()) if not a.isSeparator()]
    for toolbar in window.findChildren(QToolBar):
        found += [a for a in toolbar.actions() if a.text().endswith("…")]
    unique = {id(a): a for a in found if a.shortcut() != QUIT_KEYS}
    return list(unique.values())


async def open_tool_windows(window: MainWindow, answerer: DialogAnswerer) -> list[str]:
    """Open every tool window from its menu or toolbar action, see it, close it (an action
    this console may not take must be disabled with its reason in the tooltip)."""
    opened = []
    for action in tool_actions(window):
        name = action.text().replace("&", "")
        if not action.isEnabled():  # only where this console may not (Administration on
            # a single-user database, a role): it must say why, never be silently grey
            assert action.toolTip() and action.toolTip() != name, f"{name} disabled, no reason"
            continue
        before = {id(w) for w in QApplication.topLevelWidgets() if w.isVisible()}
        mark = len(answerer.answered)

        def new_windows(b: set[int] = before) -> list[QWidget]:
            shown = QApplication.topLevelWidgets()
            return [w for w in shown if w.isVisible() and id(w) not in b]

        action.trigger()
        await until(lambda m=mark: new_windows() or answerer.since(m), WAIT_S, f"the {name} window")
        nested = [a for a in answerer.since(mark) if a.nested]
        assert not nested, f"{name}: {nested[0].describe()}"
        for widget in new_windows():
            opened.append(widget.objectName() or name)
            widget.close()
    return opened


def quit_action(window: MainWindow) -> QAction | None:
    """File → Quit (Ctrl+Q), wherever the window keeps it."""
    return next((a for a in window.findChildren(QAction) if a.shortcut() == QUIT_KEYS), None)


def count_samples(window: MainWindow) -> int:
    """Telemetry rows in the database (blocking: call via database.run)."""
    with window.context.database.session() as session:
        return session.scalar(select(func.count()).select_from(TelemetrySample)) or 0


async def iot_samples_arriving(window: MainWindow) -> None:
    """New IoT readings keep reaching the database."""
    database = window.context.database
    before = await database.run(count_samples, window)
    deadline = _now() + WAIT_S
    while await database.run(count_samples, window) <= before:
        assert _now() < deadline, f"no telemetry stored in {WAIT_S:.0f} s ({before} rows)"
        await asyncio.sleep(POLL_S)


def _now() -> float:
    return asyncio.get_running_loop().time()


async def lost_tasks() -> list[str]:
    """Tasks that will never run again although what they wait for has happened.

    A coroutine that nests an event loop makes asyncio drop the wake-ups of every other
    task stepped meanwhile ("Cannot enter into task ..."); such a task stays pending with
    a finished ``_fut_waiter`` for good, so ``TaskOwner.running`` still lists it. A live
    task with a finished waiter is stepped in the loop's next iteration; one poll
    interval is many iterations, so a task still in that state after it is lost.
    """

    def stuck() -> dict[asyncio.Task[Any], object]:
        found = {}
        for task in asyncio.all_tasks():
            waiter = getattr(task, "_fut_waiter", None)
            if waiter is not None and waiter.done():
                found[task] = waiter
        return found

    first = stuck()
    await asyncio.sleep(POLL_S)
    second = stuck()
    lost = [t for t, w in first.items() if second.get(t) is w and not t.done()]
    return sorted(f"{t.get_name()} ({_coro_name(t)})" for t in lost if not _ours(t))


def _coro_name(task: asyncio.Task[Any]) -> str:
    return getattr(task.get_coro(), "__qualname__", "?")


def _ours(task: asyncio.Task[Any]) -> bool:
    """The shift's own waits (lost the same way) are not the console's tasks."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and f"{os.sep}tests{os.sep}" in code.co_filename


async def assert_background_alive(owner: Any, baseline: list[str]) -> None:
    """Every task running after start-up still runs, none was lost, none restarted."""
    dead = sorted(set(baseline) - set(owner.running))
    assert not dead, f"background tasks gone: {', '.join(dead)}"
    lost = await lost_tasks()
    assert not lost, f"tasks that lost their wake-up (never run again): {', '.join(lost)}"
    restarts = getattr(owner, "restarts", 0)
    assert restarts == 0, f"{restarts} background task restart(s)"
