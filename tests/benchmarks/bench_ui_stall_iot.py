"""The UI event loop of a standalone console while its IoT gateway takes device traffic.

House rule 7: a dispatcher never sees a frozen window. A standalone console hosts the
gateway, the ingest and the telemetry writer in the GUI process, on the same qasync loop
as the window, so every frame's decode, ACK and store callback competes with repaints.
bench_ui_stall covers a Smartcar cron cycle; this one covers device load.

Set-up per rate (a fresh console each, because the generator's fix times restart at lap
0 and a second run on the same database would only send duplicates the ingest dedupes):
N GT06 scooters (vehicles + iot_device rows, bulk-inserted by bench_iot_gateway's
``register_devices``); the real MainWindow (fleet list, detail, map tab open, as in
bench_ui_stall); TelemetryWriter, ``start_iot`` (gateway + ingest + command audit),
the alert rules fed by the writer (the bootstrap wires them) and LiveUpdates wired as main.py
and app/services/wiring/workers.py wire them, on SQLite in a temp dir. The load generator is
bench_iot_gateway's, in a child process so it does not take the console's core: N
devices log in, then send R frames/s (each a new fix) for S seconds and time the ACKs.

A 5 ms QTimer heartbeat records the gaps between its ticks during the logins and during
the load, the latter until every frame is stored and the window has shown the rows.
Targets (read, not asserted): longest stall < 50 ms, all frames stored, ACK p99 < 100 ms.

Tunables (environment): BENCH_UI_IOT_DEVICES (2000), BENCH_UI_IOT_RATES (200,1000
frames/s, a comma list), BENCH_UI_IOT_SECONDS (20).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_iot_gateway import (
    WORKLOADS,
    _generator_main,
    count_samples,
    raise_nofile,
    register_devices,
)
from tests.benchmarks.bench_ui_stall import open_window
from tests.benchmarks.harness import Result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")

HEARTBEAT_MS = 5
STALL_MS = 50
PROTOCOL = "gt06"
NAME = "ui_stall_iot"


class Heartbeat:
    """Gaps between ticks of a 5 ms QTimer: any gap well over 5 ms is the loop stalled."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return list(self.gaps)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


async def _measure_rate(n: int, rate: float, seconds: float, data_dir: Path) -> list[Result]:
    from app.config import DemoSettings, IotSettings, Settings
    from app.paths import resolve_paths
    from app.services.iot.runtime import start_iot
    from app.services.tasks import TaskOwner
    from app.services.wiring.bootstrap import open_context
    from app.views.gc_policy import GuiGarbageCollection
    from main import _wire_live_updates

    settings = Settings(
        demo=DemoSettings(cars=0, micromobility=0),
        iot=IotSettings(gateway_host="127.0.0.1", ports={PROTOCOL: 0}),
    )
    context = open_context(settings, resolve_paths(data_dir).ensure())
    tasks = TaskOwner()
    loop = asyncio.get_running_loop()
    gui_gc = GuiGarbageCollection()  # the console's collection policy (main.py)
    proc = None
    runtime = None
    try:
        db = context.database
        await db.run(register_devices, db, PROTOCOL, n)
        window = await open_window(context)
        gui_gc.freeze_startup_heap()  # as main.py does once the fleet is loaded
        # As start_workers does for a standalone console (minus Smartcar: no cars here).
        writer = context.telemetry_writer
        assert writer is not None
        tasks.spawn(writer.run(), "telemetry-writer")
        committed = [0.0]
        writer.commits.subscribe(lambda _ids: committed.__setitem__(0, time.perf_counter()))
        runtime = await start_iot(db, settings, writer, demo=False)
        context.iot.current = runtime
        tasks.spawn(context.alerts.run, "alerts")
        _wire_live_updates(window, context)
        live = window.live_updates
        await asyncio.sleep(0.5)  # start-up work (map page, first pushes) settles

        heartbeat = Heartbeat()
        heartbeat.start()
        login_began = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        port = runtime.gateway.ports[PROTOCOL]
        proc = ctx.Process(target=_generator_main, args=(port, n, rate, seconds, PROTOCOL, child))
        proc.start()
        _, logins = await loop.run_in_executor(None, parent.recv)
        login_s = time.perf_counter() - login_began
        login_gaps = heartbeat.stop()
        stored_before = await db.run(count_samples, db)
        refreshed_before = live.refreshed

        heartbeat.start()
        parent.send("go")
        began = time.perf_counter()
        _, sent, send_s, latencies, lost = await loop.run_in_executor(None, parent.recv)
        await writer.flush()
        stored = await db.run(count_samples, db) - stored_before
        took = committed[0] - began
        settle = time.perf_counter()
        while live.refreshed == refreshed_before and time.perf_counter() - settle < 5:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)  # the last coalesced list/map pushes (250 ms window)
        load_gaps = heartbeat.stop()
        await loop.run_in_executor(None, proc.join, 30)
        frame_errors = runtime.gateway.stats.frame_errors
        window.close()
    finally:
        if proc is not None and proc.is_alive():
            proc.terminate()
        if runtime is not None:
            context.iot.current = None
            await runtime.aclose()
        await tasks.shutdown()
        context.close()
        gui_gc.stop()

    acks = sorted(x * 1000 for x in latencies)
    worst, worst_login = max(load_gaps), max(login_gaps)
    p50, p99 = _percentile(acks, 0.50), _percentile(acks, 0.99)
    at = f"{rate:.0f} frames/s"
    return [
        Result(NAME, f"{at}: {PROTOCOL} devices logged in", logins, "conn", f">= {n}",
               logins >= n),
        Result(NAME, f"{at}: longest UI stall during {n} logins", worst_login, "ms",
               f"< {STALL_MS} ms", worst_login < STALL_MS),
        Result(NAME, f"{at}: login phase duration", login_s, "s"),
        Result(NAME, f"{at}: longest UI stall under load (5 ms heartbeat)", worst, "ms",
               f"< {STALL_MS} ms", worst < STALL_MS),
        Result(NAME, f"{at}: heartbeat gaps over {STALL_MS} ms",
               sum(g > STALL_MS for g in load_gaps), "gaps", "0"),
        Result(NAME, f"{at}: heartbeat gap p99", _percentile(sorted(load_gaps), 0.99), "ms"),
        Result(NAME, f"{at}: frames offered per second", sent / send_s, "frames/s",
               f">= {rate:.0f}", sent / send_s >= rate * 0.98),
        Result(NAME, f"{at}: frames stored per second", stored / max(took, 1e-9), "frames/s",
               f">= {rate:.0f}"),
        Result(NAME, f"{at}: rows in telemetry_sample / frames sent", 100 * stored / max(sent, 1),
               "%", "100", stored == sent),
        Result(NAME, f"{at}: ACK latency p50", p50, "ms"),
        Result(NAME, f"{at}: ACK latency p99", p99, "ms", "< 100", p99 < 100),
        Result(NAME, f"{at}: rows refreshed in the window", live.refreshed - refreshed_before,
               "rows"),
        Result(NAME, f"{at}: connections lost / frame errors", lost + frame_errors, "", "0",
               lost + frame_errors == 0),
    ]  # fmt: skip


async def _all_rates(n: int, rates: list[float], seconds: float) -> list[Result]:
    results: list[Result] = []
    for rate in rates:
        with tempfile.TemporaryDirectory() as tmp:
            results += await _measure_rate(n, rate, seconds, Path(tmp))
    return results


def run() -> list[Result]:
    import PySide6.QtWebEngineWidgets  # noqa: F401  - before QApplication
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.views.map_scheme import register_schemes

    assert PROTOCOL in WORKLOADS
    wanted = int(os.environ.get("BENCH_UI_IOT_DEVICES", "2000"))
    rates = [float(r) for r in os.environ.get("BENCH_UI_IOT_RATES", "200,1000").split(",")]
    seconds = float(os.environ.get("BENCH_UI_IOT_SECONDS", "20"))
    limit = raise_nofile(wanted + 256)  # the gateway's sockets, plus Qt's and SQLite's
    n = min(wanted, limit - 256)
    if n < wanted:
        print(f"RLIMIT_NOFILE hard limit {limit}: scaled devices down to {n}")

    register_schemes()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # as main.py: closing the window must not stop the loop
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:  # one run_until_complete: a second one crashed in qasync's stop()
            return loop.run_until_complete(_all_rates(n, rates, seconds))
    finally:
        asyncio.set_event_loop(None)
