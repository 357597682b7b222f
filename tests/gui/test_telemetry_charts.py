"""Telemetry charts: stored series drawn, gaps as gaps, hover text, latest load wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.views.chart_ranges import with_gaps
from app.views.telemetry_charts import TelemetryCharts
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


def _y_span(charts: TelemetryCharts, key: str) -> tuple[float, float]:
    return tuple(charts.plots[key].vb.viewRange()[1])


async def test_a_single_sample_is_a_visible_point_with_a_range_around_it(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    at = datetime.now(UTC) - timedelta(hours=2)
    store(window.context, [reading(car.id, at, fuel=54.0, odometer=12_345.0)])
    views = window.telemetry_views
    charts: TelemetryCharts = views.charts
    loaded: list[int] = []
    charts.loaded.connect(loaded.append)
    window.select_vehicle(car.id)
    views.right_tabs.setCurrentWidget(charts)
    await until(lambda: loaded == [car.id], 10, "the charts")

    t, y = charts.curves["fuel"].getData()
    assert list(y) == [54.0] and t[0] == pytest.approx(at.timestamp())
    assert charts.curves["fuel"].opts["symbol"] == "o"  # a lone sample is a dot, not nothing
    low, high = _y_span(charts, "energy")
    assert low < 54.0 < high and high - low >= 2
    low, high = _y_span(charts, "odometer")
    assert low < 12_345.0 < high and high - low < 1_000  # around the value, not -400..400
    odometer_axis = charts.plots["odometer"].getAxis("left")
    assert odometer_axis.autoSIPrefixScale == 1.0 and "x0.001" not in odometer_axis.labelString()
    x_low, x_high = charts.plots["energy"].vb.viewRange()[0]
    assert x_low < at.timestamp() < x_high
    assert charts.status.text() == "1 sample"

    charts.range_combo.setCurrentText("All")  # one instant: an hour either side of it
    await until(lambda: len(loaded) == 2, 10, "the reload")
    x_low, x_high = charts.plots["energy"].vb.viewRange()[0]
    assert x_low < at.timestamp() < x_high and x_high - x_low >= 3600


async def test_a_scooter_gets_its_own_plots_and_fresh_axes(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    scooter = next(r for r in window.model.rows if r.kind == "scooter")
    ebike = next(r for r in window.model.rows if r.kind == "e-bike")
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=10 * i) for i in range(5, 0, -1)]
    store(
        window.context,
        [
            reading(
                car.id,
                at,
                fuel=60.0 + i,
                odometer=50_000.0 + i,
                oil_life=70.0,
                tires_kpa={"frontLeft": 230.0},
            )
            for i, at in enumerate(times)
        ]
        + [reading(scooter.id, at, battery=80.0 - i, odometer=412.0) for i, at in enumerate(times)]
        + [reading(ebike.id, times[0], battery=30.0)],
    )
    views = window.telemetry_views
    charts: TelemetryCharts = views.charts
    loaded: list[int] = []
    charts.loaded.connect(loaded.append)
    views.right_tabs.setCurrentWidget(charts)
    window.select_vehicle(car.id)
    await until(lambda: loaded == [car.id], 10, "the car's charts")
    assert _y_span(charts, "odometer")[0] > 40_000

    window.select_vehicle(scooter.id)
    await until(lambda: loaded == [car.id, scooter.id], 10, "the scooter's charts")
    _t, battery = charts.curves["battery"].getData()
    assert list(battery) == [80.0, 79.0, 78.0, 77.0, 76.0]
    low, high = _y_span(charts, "odometer")  # the scooter's flat 412 km, not the car's axis
    assert low < 412.0 < high and high - low < 100
    for gone in ("tires", "oil_life"):
        assert charts.plots[gone].scene() is None  # out of the layout, not an empty plot
    assert charts.shown_plots() == ["energy", "odometer"]  # no tires, no oil on a scooter

    window.select_vehicle(ebike.id)  # no odometer reported: an empty plot, not 412's axis
    await until(lambda: loaded[-1] == ebike.id, 10, "the e-bike's charts")
    assert _y_span(charts, "odometer") == (0.0, 100.0)
    assert charts.shown_plots() == ["energy", "odometer"]
    _t, fuel = charts.curves["fuel"].getData()
    assert fuel is None or fuel.size == 0  # nothing of the car's fuel left drawn

    window.select_vehicle(car.id)
    await until(lambda: loaded[-1] == car.id, 10, "the car again")
    assert charts.shown_plots() == ["energy", "odometer", "tires", "oil_life"]
    assert all(charts.plots[key].scene() is charts.graphics.scene() for key in charts.plots)
