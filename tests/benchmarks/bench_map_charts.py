"""Map and charts: 1,000,000 samples charted, 10,000 markers moved (issue 5, c and d).

(c) query plus first render of one vehicle's 1M samples (target < 300 ms): the real
    loader (``TelemetryReads.chart``: app/models/chart_series.py, on a temp SQLite
    file) and the real chart widget, "rendered" = a forced full paint (``grab()``). The
    query (loader call until its result is back on the loop) and the render (from there
    to the painted widget) are also reported on their own.
(d) 10,000 markers moved on the real map page: call to painted frame (target < 250 ms),
    "painted" = the page's double requestAnimationFrame reported back over QWebChannel.
    Again with 500 zones drawn among the markers (issue 19: within 10 % of the move
    without zones). The two pages are open side by side and moved in turns (in ABBA
    order), so a load that comes and goes on a shared machine weighs on both medians
    alike; measured one after the other, drift alone gave 90 to 127 %.
(b) (the UI stall during a telemetry cron cycle over 1,000 vehicles) is not measured
    here yet; see the report.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.benchmarks.harness import Result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")

SAMPLES = 1_000_000
MARKERS = 10_000
ZONES = 500
RUNS = 5
MOVES = 15  # per page in the zones comparison: a ratio of medians needs more


def _populate(path: Path) -> int:
    from app.models.database import Database, sqlite_url

    start = datetime.now(UTC) - timedelta(seconds=SAMPLES * 30)
    with Database(sqlite_url(path)) as db:
        db.migrate()
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO vehicle (id, name, fleet_number, kind, make, model, plate, "
                "connection_type, status, created_at, updated_at) "
                f"VALUES (1, 'Bench', 'B-1', 'car', '', '', '', 'none', 'available', "
                f"'{now}', '{now}')"
            )
            rows = (
                (
                    1,
                    "iot",
                    (start + timedelta(seconds=30 * i))
                    .replace(tzinfo=None)
                    .isoformat(" ", "microseconds"),
                    50 + (i % 1000) / 20,
                    10_000 + i / 100,
                )
                for i in range(SAMPLES)
            )
            connection.exec_driver_sql(
                "INSERT INTO telemetry_sample (vehicle_id, source, recorded_at, received_at, "
                "fuel_pct, odometer_km) VALUES (?, ?, ?, ?3, ?4, ?5)",
                list(rows),
            )
            # The latest state, as the telemetry store keeps it next to every sample.
            connection.exec_driver_sql(
                "INSERT INTO vehicle_state (vehicle_id, fuel_pct, odometer_km, recorded_at, "
                "last_heard_at) VALUES (1, 99.95, 20000.0, ?1, ?1)",
                (now,),
            )
    return SAMPLES


async def bench_charts() -> list[Result]:
    from app.models.database import Database, sqlite_url
    from app.services.telemetry.reads import TelemetryReads
    from app.views.telemetry_charts import TelemetryCharts

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        _populate(path)
        times, queries, renders = [], [], []
        with Database(sqlite_url(path)) as db:
            reads = TelemetryReads(db)
            charts = TelemetryCharts()
            charts.resize(1000, 800)
            charts.show()
            charts.range_combo.setCurrentText("All")
            answered: list[float] = []

            async def loader(vid, since, until):  # type: ignore[no-untyped-def]
                result = await reads.chart(vid, since, until)
                answered.append(time.perf_counter())
                return result

            charts.set_loader(loader)
            for _run in range(RUNS):
                done = asyncio.Event()
                charts.loaded.connect(lambda _v, d=done: d.set())
                charts.vehicle_id = None
                started = time.perf_counter()
                charts.show_vehicle(1)
                await asyncio.wait_for(done.wait(), 60)
                charts.graphics.grab()
                ended = time.perf_counter()
                times.append((ended - started) * 1000)
                queries.append((answered[-1] - started) * 1000)
                renders.append((ended - answered[-1]) * 1000)
                charts.loaded.disconnect()
                assert charts.status.text() == f"{SAMPLES:,} samples", charts.status.text()
            charts.close()
    median = statistics.median(times)
    return [
        Result("map_charts", "chart 1M samples: query + first render (median)", median, "ms",
               "< 300 ms", median < 300),
        Result("map_charts", "chart 1M samples: first run", times[0], "ms"),
        Result("map_charts", "chart 1M samples: query (median)", statistics.median(queries), "ms"),
        Result("map_charts", "chart 1M samples: render (median)", statistics.median(renders), "ms"),
    ]  # fmt: skip


def zone_shapes(count: int) -> list:  # list[ZoneShape]
    """``count`` hexagons of every kind in a grid over the markers' area."""
    import math

    from app.views.map_zones import KINDS, ZoneShape

    kinds = list(KINDS)
    shapes = []
    for i in range(count):
        lon, lat = 13.30 + (i % 25) * 0.008, 52.45 + (i // 25) * 0.010
        ring = [
            (lon + 0.003 * math.cos(a * math.pi / 3), lat + 0.002 * math.sin(a * math.pi / 3))
            for a in range(6)
        ]
        shapes.append(ZoneShape(i + 1, f"Zone {i + 1}", kinds[i % len(kinds)], ring))
    return shapes


def _rows(shift: float) -> list:  # list[VehicleRow]
    from app.models.vehicles import VehicleRow

    now = datetime.now(UTC)
    return [
        VehicleRow(
            i, f"V{i}", f"F{i}", "car" if i % 3 == 0 else "scooter", "", "", None, None,
            None, "", None, "none", None, None, "available", 50.0, None, 1.0, True,
            52.45 + (i % 100) / 500 + shift, 13.30 + (i // 100) / 500 + shift, now, False,
        )
        for i in range(1, MARKERS + 1)
    ]  # fmt: skip


async def _until_painted(view, token: str) -> float:  # view: FleetMapView
    """Ms from the flush to the page's report that ``token`` is on screen."""
    seen = asyncio.Event()

    def on(t: str) -> None:
        if t == token:
            seen.set()

    view.painted.connect(on)
    started = time.perf_counter()
    view.flush(token)
    await asyncio.wait_for(seen.wait(), 60)
    view.painted.disconnect(on)
    return (time.perf_counter() - started) * 1000


async def _open_map(tiles, zones: int):  # -> FleetMapView
    """A map page with every marker (and ``zones`` zones) drawn; also the first paint."""
    from app.views.fleet_map import FleetMapView

    view = FleetMapView(tiles, (52.55, 13.40))
    view.resize(1200, 800)
    view.show()
    while not view.is_ready:
        await asyncio.sleep(0.01)
    if zones:
        view.zones.show_zones(zone_shapes(zones))
    view.set_rows(_rows(0.0))
    return view, await _until_painted(view, "all")


async def _move(view, run: int) -> float:
    view.update_rows(_rows(run / 1000))
    return await _until_painted(view, f"move{run}")


async def bench_markers() -> list[Result]:
    """The move benchmark alone, then the pages with and without zones in turns."""
    from app.views.map_tiles import TileCache

    with tempfile.TemporaryDirectory() as tmp:
        tiles = TileCache(Path(tmp))
        plain, first = await asyncio.wait_for(_open_map(tiles, 0), 60)
        alone = [await _move(plain, run) for run in range(1, RUNS + 1)]
        zoned, first_zoned = await asyncio.wait_for(_open_map(tiles, ZONES), 60)
        without, with_zones = [], []
        for run in range(RUNS + 1, RUNS + MOVES + 1):
            # ABBA: whichever page goes first in a turn pays for what the turn before left.
            turn = [(plain, without), (zoned, with_zones)]
            for view, times in turn if run % 2 else reversed(turn):
                times.append(await _move(view, run))
        for view in (plain, zoned):
            view.close()
            view.deleteLater()
    median = statistics.median(alone)
    zoned_median = statistics.median(with_zones)
    ratio = zoned_median / statistics.median(without) * 100
    return [
        Result("map_charts", "move 10k markers: call to painted frame (median)", median,
               "ms", "< 250 ms", median < 250),
        Result("map_charts", "first 10k markers: call to painted frame", first, "ms"),
        Result("map_charts", f"move 10k markers with {ZONES} zones: call to painted frame "
               "(median)", zoned_median, "ms", "< 250 ms", zoned_median < 250),
        Result("map_charts", f"first 10k markers with {ZONES} zones: call to painted frame",
               first_zoned, "ms"),
        Result("map_charts", f"move 10k markers: with {ZONES} zones / without (in turns)",
               ratio, "%", "<= 110 %", ratio <= 110),
    ]  # fmt: skip


def run() -> list[Result]:
    import PySide6.QtWebEngineWidgets  # noqa: F401  - before QApplication
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.views.map_scheme import register_schemes

    register_schemes()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # the chart closes before the maps open
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def both() -> list[Result]:
        # One run of the loop: QApplication.exec() ending emits aboutToQuit, which shuts
        # QtWebEngine down for the rest of the process.
        return await bench_charts() + await bench_markers()

    try:
        with loop:
            return loop.run_until_complete(both())
    finally:
        asyncio.set_event_loop(None)
