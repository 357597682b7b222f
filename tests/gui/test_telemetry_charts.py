"""Telemetry charts: stored series drawn, gaps as gaps, hover text, latest load wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.views.telemetry_charts import TelemetryCharts, with_gaps
from tests.gui.telemetry_data import reading, store
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def test_with_gaps_breaks_long_intervals_only():
    t = np.array([0.0, 60, 120, 180, 3600, 3660, 3720])
    v = np.arange(7.0)
    gt, gv = with_gaps(t, v)
    assert gt.size == 8 and np.isnan(gv).sum() == 1
    assert np.isnan(gv[4]) and gt[4] == pytest.approx((180 + 3600) / 2)
    assert np.all(np.diff(gt) > 0)  # still sorted for clip-to-view
    same_t, same_v = with_gaps(t[:4], v[:4])
    assert same_t.size == 4 and not np.isnan(same_v).any()


async def test_charts_show_the_selected_vehicles_history_with_gaps(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    now = datetime.now(UTC)
    start = now - timedelta(hours=10)
    times = [start + timedelta(minutes=5 * i) for i in range(24)]  # two hours, 5 min apart
    times += [start + timedelta(hours=6, minutes=5 * i) for i in range(12)]  # after a gap
    store(
        window.context,
        [
            reading(
                car.id,
                at,
                fuel=80.0 - i,
                odometer=1000.0 + i,
                oil_life=60.0,
                tires_kpa={"frontLeft": 230.0 + i % 3, "backRight": 240.0},
            )
            for i, at in enumerate(times)
        ],
    )
    views = window.telemetry_views
    charts: TelemetryCharts = views.charts
    loaded: list[int] = []
    charts.loaded.connect(loaded.append)
    window.select_vehicle(car.id)
    views.right_tabs.setCurrentWidget(charts)
    await until(lambda: loaded == [car.id], 10, "the charts")

    _x, y = charts.curves["fuel"].getData()
    assert np.count_nonzero(np.isfinite(y)) == 36
    assert np.isnan(y).sum() == 1  # the 4-hour silence is a gap, not a line
    assert y[np.isfinite(y)][0] == 80.0
    _tx, ty = charts.curves["tire:frontLeft"].getData()
    assert np.count_nonzero(np.isfinite(ty)) >= 3
    assert (
        charts.curves["battery"].getData()[0] is None
        or charts.curves["battery"].getData()[0].size == 0
    )
    assert charts.status.text() == "36 samples"
    text = charts.hover_text("energy", times[0].timestamp() + 10)
    assert "fuel 80.0 %" in text and times[0].astimezone().strftime("%H:%M") in text

    # A narrower range reloads; the 24 h range still has everything, "All" too.
    charts.range_combo.setCurrentText("All")
    await until(lambda: len(loaded) == 2, 10, "the reload")
    assert charts.status.text() == "36 samples"


async def test_a_new_selection_cancels_the_load_in_flight(window):
    charts: TelemetryCharts = window.telemetry_views.charts
    first, second = window.model.rows[0].id, window.model.rows[1].id
    charts.show_vehicle(first)
    task = charts._task
    charts.show_vehicle(second)
    await until(lambda: task.done(), 5, "the first load to end")
    assert task.cancelled()
    await until(lambda: charts.status.text() == "No data in this range", 10, "second load")
    assert charts.vehicle_id == second


async def test_an_overview_is_re_read_in_detail_when_zoomed_in(window):
    from app.models.chart_series import load_chart

    car = window.model.rows[0]
    start = datetime.now(UTC) - timedelta(hours=20)
    times = [start + timedelta(minutes=i) for i in range(600)]
    store(window.context, [reading(car.id, at, fuel=float(i % 60)) for i, at in enumerate(times)])
    db = window.context.database
    charts: TelemetryCharts = window.telemetry_views.charts
    charts.set_loader(
        lambda vid, since, until: db.run(load_chart, db, vid, since, until, raw_limit=100)
    )
    loaded: list[int] = []
    detail: list[int] = []
    charts.loaded.connect(loaded.append)
    charts.detail_loaded.connect(detail.append)
    charts.show_vehicle(car.id)
    await until(lambda: loaded == [car.id], 10, "the overview")
    assert charts.status.text() == "600 samples"
    assert charts._overview
    charts.plots["energy"].setXRange(times[100].timestamp(), times[130].timestamp(), padding=0)
    await until(lambda: detail == [car.id], 10, "the detail of the zoomed range")
    assert not charts._overview
    t, y = charts.curves["fuel"].getData()
    assert t[0] <= times[100].timestamp() and t[-1] >= times[130].timestamp()
    assert np.count_nonzero(np.isfinite(y)) < 100  # just the zoomed window, sample by sample
