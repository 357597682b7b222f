"""The UI event loop while one telemetry cron cycle polls 1,000 cars (issue 5, b).

Target: no stall of the UI loop longer than 50 ms. The Smartcar simulator runs in its own
process with 1,000 cars (as in bench_smartcar_poll); Connect is walked once for their
owner and the real tokens go into 1,000 ``smartcar_connection`` rows. The real
MainWindow (fleet list, detail, map tab open) runs in this process on a qasync loop,
with the real writer, cron and LiveUpdates wired as main.py wires them. A 5 ms QTimer
heartbeat records the longest gap between its ticks from the cron's start until every
poll is stored and the window has shown the refreshed rows.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.benchmarks.harness import Result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")

HEARTBEAT_MS = 5
CONCURRENCY = 8


async def open_window(context):  # type: ignore[no-untyped-def]
    """The real MainWindow as an operator has it: fleet loaded, first row selected, map tab
    shown and its page ready (also used by bench_ui_stall_iot)."""
    from app.views.main_window import MainWindow

    window = MainWindow(context, confirm=lambda *_: True)
    window.resize(1400, 850)
    window.show()
    loaded = asyncio.Event()
    window.fleet_loaded.connect(lambda _n: loaded.set())
    window.reload()
    await asyncio.wait_for(loaded.wait(), 60)
    window.select_vehicle(window.model.rows[0].id)
    fleet_map = window.telemetry_views.ensure_map()
    window.telemetry_views.left_tabs.setCurrentIndex(1)
    started = time.perf_counter()
    while not fleet_map.is_ready and time.perf_counter() - started < 60:
        await asyncio.sleep(0.05)
    return window


async def _tokens(client, email: str):  # type: ignore[no-untyped-def]
    from app.integrations.smartcar import connect_scope_param
    from tests.integration.integrations.smartcar.connect_walk import walk_connect

    url = client.auth.connect_url([*connect_scope_param()], "bench", mode="simulated")
    redirect = await asyncio.to_thread(walk_connect, url, email=email)
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    tokens = await client.auth.exchange_code(code)
    return tokens, await client.all_vehicle_ids(tokens.access_token)


def _fleet(database, ids: list[str], tokens) -> None:  # type: ignore[no-untyped-def]
    """1,000 cars, each with an active connection holding the real tokens (plain bytes:
    the benchmark's stand-in refresher reads them as the integration tests do)."""
    from app.models.orm import SmartcarConnection, Vehicle

    now = datetime.now(UTC)
    with database.session() as session:
        for n, smartcar_id in enumerate(ids, start=1):
            vehicle = Vehicle(
                name=f"Car {n}", fleet_number=f"C-{n:04d}", kind="car", make="", model="",
                plate="", connection_type="smartcar", status="available",
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(vehicle)
            session.flush()
            session.add(
                SmartcarConnection(
                    vehicle_id=vehicle.id, smartcar_vehicle_id=smartcar_id, status="active",
                    access_token_enc=tokens.access_token.encode(),
                    refresh_token_enc=tokens.refresh_token.encode(),
                    access_expires_at=tokens.expires_at,
                    refresh_expires_at=tokens.refresh_expires_at, connected_at=now,
                    has_tokens=True,
                )
            )  # fmt: skip


async def _measure(base_url: str, data_dir: Path) -> list[Result]:
    import httpx
    from PySide6.QtCore import QTimer

    from app.config import DemoSettings, Settings, TelemetrySettings
    from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
    from app.paths import resolve_paths
    from app.services.telemetry.cron import TelemetryCron
    from app.services.telemetry.writer import TelemetryWriter
    from app.services.wiring.bootstrap import open_context
    from app.views.live_updates import LiveUpdates
    from tests.benchmarks.bench_smartcar_poll import CLIENT_ID, FLEET, OWNER, REDIRECT, SECRET
    from tests.integration.services.telemetry.conftest import DbRefresher

    settings = Settings(demo=DemoSettings(cars=0, micromobility=0))
    context = open_context(settings, resolve_paths(data_dir).ensure())
    creds = SmartcarCredentials(CLIENT_ID, SECRET, REDIRECT)
    client = SmartcarClient(
        SmartcarOrigins.for_simulator(base_url), creds, timeout=httpx.Timeout(30.0)
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        tokens, ids = await _tokens(client, OWNER)
        assert len(ids) == FLEET, len(ids)
        await context.database.run(_fleet, context.database, ids, tokens)

        window = await open_window(context)

        writer = TelemetryWriter(context.database)
        refresher = DbRefresher(context.database, client, time.time)
        cron = TelemetryCron(
            client, writer, context.database,
            ensure_fresh_token=refresher.ensure_fresh_token,
            mark_expired=refresher.mark_expired,
            settings=TelemetrySettings(
                poll_interval_s=3600, monthly_request_budget=1_000_000,
                max_concurrent_requests=CONCURRENCY,
            ),
            rng=random.Random(1), request_timeout_s=30.0,
        )  # fmt: skip
        live = LiveUpdates(window.fleet, context.vehicles)  # as main.py's _wire_live_updates
        window.live_updates = live
        writer.commits.subscribe(live.vehicles_changed)
        cron.changes.subscribe(live.vehicle_changed)

        gaps: list[float] = []
        last = time.perf_counter()

        def beat() -> None:
            nonlocal last
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now

        heartbeat = QTimer()
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(beat)
        await asyncio.sleep(0.5)  # let start-up work (map page, first pushes) settle
        gaps.clear()
        last = time.perf_counter()
        heartbeat.start()
        started = time.perf_counter()
        tasks.append(asyncio.get_running_loop().create_task(writer.run()))
        tasks.append(asyncio.get_running_loop().create_task(cron.run()))
        while (cron.status().last_cycle_vehicles or 0) < FLEET:
            await asyncio.sleep(0.05)
        cycle_s = time.perf_counter() - started
        await writer.flush()
        while live.refreshed < FLEET:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the coalesced list/map pushes that follow
        heartbeat.stop()
        status = cron.status()
        window.close()
        worst = max(gaps)
        over = sum(g > 50 for g in gaps)
        return [
            Result("ui_stall", f"one cron cycle, {FLEET} cars: duration", cycle_s, "s"),
            Result("ui_stall", "cycle errors", status.last_cycle_errors, "polls", "0",
                   status.last_cycle_errors == 0),
            Result("ui_stall", "longest UI loop stall (5 ms heartbeat)", worst, "ms",
                   "< 50 ms", worst < 50),
            Result("ui_stall", "heartbeat gaps over 50 ms", over, "gaps"),
            Result("ui_stall", "rows refreshed in the window", live.refreshed, "rows"),
        ]  # fmt: skip
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        context.close()


def run() -> list[Result]:
    import PySide6.QtWebEngineWidgets  # noqa: F401  - before QApplication
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.views.map_scheme import register_schemes
    from tests.benchmarks.bench_smartcar_poll import _start_simulator

    register_schemes()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # as main.py: closing the window must not stop the loop
    proc, base_url = _start_simulator()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with tempfile.TemporaryDirectory() as tmp, loop:
            return loop.run_until_complete(_measure(base_url, Path(tmp)))
    finally:
        asyncio.set_event_loop(None)
        proc.terminate()
        proc.wait(timeout=30)
