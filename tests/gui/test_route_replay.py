"""Route replay in a real QtWebEngine view, offline: the stored track, the cursor, gaps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.models.database import sqlite_url
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context
from app.views.main_window import MainWindow
from app.views.map_scheme import register_schemes
from app.views.route_replay import RouteReplayDialog
from tests.gui.telemetry_data import reading, store
from tests.helpers.waiting import until

# Chromium takes custom schemes only before QApplication exists; test modules are
# imported while collecting, before pytest-qt's qapp fixture creates it.
register_schemes()

pytestmark = pytest.mark.gui


async def evaluate(dialog: RouteReplayDialog, script: str):
    future = asyncio.get_running_loop().create_future()
    dialog.map.run_js(
        f"JSON.stringify({script})", lambda result: future.done() or future.set_result(result)
    )
    return json.loads(await asyncio.wait_for(future, 10))


async def test_replay_plays_the_stored_track_with_its_gap(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    first = [
        reading(
            car.id,
            start + timedelta(minutes=i),
            lat=52.50 + i / 1000,
            lon=13.40,
            speed=20.0 + i,
            fuel=60.0 - i,
            odometer=5000.0 + i,
            locked=False,
        )
        for i in range(6)
    ]
    after_gap = start + timedelta(hours=2)
    second = [
        reading(car.id, after_gap + timedelta(minutes=i), lat=52.60, lon=13.50 + i / 1000)
        for i in range(4)
    ]
    store(window.context, [*first, *second])

    window.select_vehicle(car.id)
    window.route_replay.action.trigger()
    dialog = window.route_replay.dialogs[-1]
    fixes: list[int] = []
    dialog.loaded.connect(fixes.append)
    await until(lambda: fixes == [10] or dialog.track is not None, 10, "the track")
    await until(lambda: dialog.map.is_ready, 20, "the replay page")
    assert dialog.track is not None and len(dialog.track.fixes) == 10
    since, until_ = dialog.range()
    assert until_ - since == timedelta(hours=24)

    state = await evaluate(dialog, "routeReplay.state()")
    assert len(state["segments"]) == 2 and state["gaps"] == 1  # split, gap drawn dashed
    assert state["segments"][0] == [[52.50 + i / 1000, 13.40] for i in range(6)]
    assert state["segments"][1] == [[52.60, 13.50 + i / 1000] for i in range(4)]
    assert dialog.gap_list.count() == 1 and "(115 min)" in dialog.gap_list.item(0).text()
    assert state["cursor"] == [52.50, 13.40]  # starts at the first fix
    assert dialog.readings["speed"].text() == "20 km/h"

    # Moving the slider moves the cursor and updates the readings.
    dialog.slider.setValue(dialog.slider.value() + 3 * 60)
    assert dialog.readings["speed"].text() == "23 km/h"
    assert dialog.readings["energy"].text() == "fuel 57 %"
    assert dialog.readings["odometer"].text() == "5,003 km"
    assert dialog.readings["lock"].text() == "Unlocked"
    state = await evaluate(dialog, "routeReplay.state()")
    assert state["cursor"] == pytest.approx([52.503, 13.40])

    # Playing at 60x moves the cursor on without touching the slider.
    assert dialog.speed() == 60
    before = dialog.slider.value()
    dialog.play_button.click()
    await until(lambda: dialog.slider.value() >= before + 12, 5, "playback")
    dialog.play_button.click()
    assert not dialog.timer.isActive() and dialog.play_button.text() == "Play"
    dialog.close()


async def test_replay_without_selection_says_so(window):
    window.table.clearSelection()
    window.table.setCurrentIndex(window.proxy.index(-1, -1))
    assert window.route_replay.open() is None
    assert "Select a vehicle" in window.statusBar().currentMessage()


async def test_replay_works_on_a_read_only_review_database(qtbot, tmp_path, context):
    car = context.vehicles.repository.list_rows()[0]
    start = datetime.now(UTC) - timedelta(hours=3)
    store(context, [reading(car.id, start + timedelta(minutes=i), lat=52.5, lon=13.4 + i / 1000)
                    for i in range(5)])  # fmt: skip
    file = context.paths.database_file
    context.close()
    review = open_context(
        Settings(),
        resolve_paths(tmp_path / "review").ensure(),
        db_url=sqlite_url(file),
        review=True,
    )
    window = MainWindow(review)
    qtbot.addWidget(window)
    try:
        window.reload()
        await until(lambda: window.model.rowCount() > 0, 10, "the fleet list")
        assert window.context.read_only and window.route_replay.action.isEnabled()
        window.select_vehicle(car.id)
        dialog = window.route_replay.open()
        assert dialog is not None
        await until(lambda: dialog.track is not None, 10, "the track")
        assert len(dialog.track.fixes) == 5 and dialog.track.gaps == ()
        assert dialog.map.handler.tiles.fetcher is None  # review mode: no network
        dialog.close()
    finally:
        window.close()
        review.close()
