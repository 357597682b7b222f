"""The demo console through a long shift (issue #13, deliverable 5): does it stay alive?

The real console (``main.main``, demo mode) with 2,000 simulated IoT devices and 200
connected cars runs for ``SOAK_MINUTES`` of wall time (30 by default) while the shift
test's script (tests/helpers/shift.py, the same functions) repeats its actions round
after round. 199 cars are connected through the connection service (Connect walked over
HTTP, one car at a time, as the integration tests do); the script's own car is
connected through the embedded Connect in every round; the two charted cars (one
sample, a long history) stay unconnected, so their charts show only what was seeded. Measured:

- RSS growth per hour: least-squares slope of VmRSS (the console process, and apart
  the sum of its QtWebEngine child processes) sampled every 10 s, round 1 left out
  (caches, the map page and the tool windows are built then; a run of one round keeps
  its second half);
- the longest UI stall: the largest gap of a 5 ms QTimer heartbeat over the whole soak;
- background tasks restarted (``TaskOwner.restarts``) and tasks gone since start-up;
- IoT samples stored vs sent: the records in what the simulated devices wrote, read by the
  console's own codecs (``SimDevice.count_records``), against the readings the ingest
  committed (an unchanged report is committed into the latest state without a
  history row, so rows are shown apart), after the devices stop and stores flush;
- shift steps that failed, ERROR records in the log, and the time File → Quit took.

Targets (read, not asserted): RSS growth < 20 MB/h, longest stall < 50 ms, 0 restarts,
100 % stored, quit < 5 s. Tunables: SOAK_MINUTES (30; 2 for a smoke run), SOAK_DEVICES
(2000), SOAK_CARS (200), SOAK_ROUND_S (60: a round starts at most once a minute, a
dispatcher's pace that stays inside Smartcar's per-vehicle rate limit).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.benchmarks.harness import Result

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")

NAME = "soak"
STALL_MS = 50
RSS_SAMPLE_MS = 10_000


class Soak:
    """The numbers one soak collects while its driver runs inside the console."""

    def __init__(self, minutes: float, round_s: float) -> None:
        self.minutes = minutes
        self.round_s = round_s  # one shift round begins at most this often
        self.rss: list[tuple[float, int]] = []  # (hours since the soak began, bytes)
        self.web_rss: list[tuple[float, int]] = []  # the same for the child processes
        self.devices = self.connected = 0
        self.warm_samples = 0  # RSS samples taken during round 1 (caches still filling)
        self.rounds = 0
        self.failed: Counter[str] = Counter()
        self.gaps: list[float] = []
        self.sent = self.stored = self.rows = 0
        self.alive_error = ""

    async def drive(self, session: Any) -> None:
        from PySide6.QtCore import QTimer

        from tests.benchmarks.bench_iot_gateway import rss_bytes
        from tests.benchmarks.bench_ui_stall_iot import Heartbeat
        from tests.helpers import shift
        from tests.helpers.shift_console import shift_round

        window, context = session.window, session.context
        car, one_sample, long_history = shift.cars(window)[:3]
        charted = {one_sample.id, long_history.id}  # their charts must show only the seed
        others = [c for c in shift.cars(window) if c is not car and c.id not in charted]
        await _connect_programmatically(context, others)
        self.devices = context.iot.current.simulator.device_count
        await context.database.run(shift.seed_history, window, one_sample.id, long_history.id)
        heartbeat = Heartbeat()
        heartbeat.start()
        began = time.monotonic()

        def sample() -> None:
            hours = (time.monotonic() - began) / 3600
            self.rss.append((hours, rss_bytes()))
            self.web_rss.append((hours, _children_rss()))

        sampler = QTimer()
        sampler.setInterval(RSS_SAMPLE_MS)
        sampler.timeout.connect(sample)
        sampler.start()
        deadline = began + self.minutes * 60
        while self.rounds == 0 or time.monotonic() < deadline:
            round_began = time.monotonic()
            mark = len(session.report.steps)
            scooters = shift.scooters(window)
            scooter = scooters[self.rounds % len(scooters)].id
            await shift_round(session, car.id, scooter, one_sample.id, long_history.id)
            self.failed.update(s.name for s in session.report.steps[mark:] if not s.ok)
            self.rounds += 1
            if self.rounds == 1:
                self.warm_samples = len(self.rss)
            # A dispatcher's pace, not a script's: back to back, the rounds' Smartcar
            # requests for the one car exceed its per-vehicle rate limit within minutes.
            rest = round_began + self.round_s - time.monotonic()
            if rest > 0 and time.monotonic() + rest < deadline:
                await asyncio.sleep(rest)
        sampler.stop()
        self.gaps = heartbeat.stop()
        try:
            await shift.assert_background_alive(session.owner, session.report.baseline_tasks)
        except AssertionError as exc:
            self.alive_error = str(exc)
        connections = await context.connections.all_connections()
        self.connected = sum(c.status == "active" for c in connections)
        self.sent, self.stored, self.rows = await _sent_and_stored(window, context)

    def results(self, report: Any) -> list[Result]:
        warm = min(self.warm_samples, len(self.rss) // 2)  # a short run keeps half
        growth = _slope_mb_per_h(self.rss[warm:])
        web_growth = _slope_mb_per_h(self.web_rss[warm:])
        worst = max(self.gaps, default=float("nan"))
        over = sum(g > STALL_MS for g in self.gaps)
        stored_pct = 100 * self.stored / max(self.sent, 1)
        failed = sum(self.failed.values())
        quit_s = report.quit_s if report.quit_s is not None else float("nan")
        rows = [
            Result(NAME, "wall time of the soak", self.minutes, "min"),
            Result(NAME, "shift rounds completed", self.rounds, "rounds"),
            Result(NAME, "RSS growth per hour (after warm-up)", growth, "MB/h", "< 20",
                   growth < 20),
            Result(NAME, "RSS at the end", self.rss[-1][1] / 2**20 if self.rss else 0, "MB"),
            Result(NAME, "QtWebEngine processes: RSS growth per hour", web_growth, "MB/h",
                   "< 20", web_growth < 20),
            Result(NAME, "simulated IoT devices", self.devices, "devices"),
            Result(NAME, "Smartcar connections active at the end", self.connected, "cars"),
            Result(NAME, "longest UI stall (5 ms heartbeat)", worst, "ms", f"< {STALL_MS} ms",
                   worst < STALL_MS),
            Result(NAME, f"heartbeat gaps over {STALL_MS} ms", over, "gaps"),
            Result(NAME, "background tasks restarted", report.restarts, "", "0",
                   report.restarts == 0 and not self.alive_error),
            Result(NAME, "IoT records sent by the simulated devices", self.sent, "records"),
            Result(NAME, "IoT samples stored / sent", stored_pct, "%", "100",
                   self.sent > 0 and self.stored == self.sent),
            Result(NAME, "history rows (unchanged reports only move the latest state)",
                   self.rows, "rows"),
            Result(NAME, "shift steps failed", failed, "steps", "0", failed == 0),
            Result(NAME, "ERROR / traceback records in the log", report.log_error_count, "",
                   "0", report.log_error_count == 0),
            Result(NAME, "File → Quit until the process could exit", quit_s, "s", "< 5 s",
                   quit_s < 5),
        ]  # fmt: skip
        return rows


async def _connect_programmatically(context: Any, cars: list[Any]) -> None:
    """Connect each car through the connection service, walking Connect over plain HTTP."""
    from app.services.connections.backends import DEMO_OWNER_EMAIL
    from tests.integration.integrations.smartcar.connect_walk import walk_connect

    service = context.connections
    for car in cars:
        url = service.begin(car.id, car.vin)
        redirect = await asyncio.to_thread(walk_connect, url, email=DEMO_OWNER_EMAIL)
        auth = await service.complete(redirect)
        await service.link(auth, auth.cars[0])


async def _sent_and_stored(window: Any, context: Any) -> tuple[int, int, int]:
    """Stop the devices, let every store finish, then compare what was sent with what the
    ingest stored: (records sent by registered devices, records committed or recognised as
    already stored, history rows).

    Committed readings, not rows, are the measure: a report equal to the vehicle's latest
    state (a parked scooter) is committed into ``vehicle_state`` without a history row
    (telemetry_store.py), so rows are fewer than reports by design.
    """
    from sqlalchemy import func, select

    from app.models.orm import TelemetrySample
    from tests.helpers.waiting import until

    iot = context.iot.current
    simulator, ingest = iot.simulator, iot.ingest
    await simulator.stop()
    registered = [dev for d, dev in simulator.devices.items() if ingest.device(d)]
    sent = sum(device.records_sent for device in registered)  # SimDevice.count_records
    reports = sum(device.reports_sent for device in registered)
    reporting = sum(device.reports_sent > 0 for device in registered)
    logins = sum(device.connections for device in registered)
    print(
        f"{reporting} of {len(registered)} registered devices sent {reports} reports"
        f" ({sent} records with logins and command answers) over {logins} connections"
    )
    vehicles = {e.vehicle_id for d in simulator.devices if (e := ingest.device(d))}
    await ingest.flush()
    await context.telemetry_writer.flush()

    def accounted() -> int:  # a record re-sent with the same fix time is not stored twice
        return ingest.records_stored + ingest.duplicates

    try:  # frames still in the gateway's buffers when the devices stopped
        await until(lambda: accounted() >= sent, 30, "the last reports stored")
    except AssertionError as exc:
        print(exc)
    print(f"records with a fix time already stored (kept once): {ingest.duplicates}")

    def rows() -> int:
        with context.database.session() as session:
            query = select(func.count()).select_from(TelemetrySample)
            query = query.where(TelemetrySample.vehicle_id.in_(vehicles))
            return session.scalar(query.where(TelemetrySample.source == "iot")) or 0

    return sent, accounted(), await context.database.run(rows)


def _children_rss() -> int:
    """RSS of every descendant process (QtWebEngine's zygote, renderers, GPU), bytes."""
    parents: dict[str, str] = {}
    pages: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        pid = stat.parent.name
        parents[pid], pages[pid] = fields[1], int(fields[21])  # stat fields 4 and 24
    family, grew = {str(os.getpid())}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    family.discard(str(os.getpid()))
    return sum(pages.get(pid, 0) for pid in family) * os.sysconf("SC_PAGE_SIZE")


def _slope_mb_per_h(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, MB per hour (nan with fewer than 2 points)."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return float("nan")
    slope = sum((t - mean_t) * (r - mean_r) for t, r in points) / spread
    return slope / 2**20


def run() -> list[Result]:
    from app.integrations.iot.simulator.device import SimDevice
    from tests.benchmarks.bench_iot_gateway import raise_nofile
    from tests.helpers.shift_console import run_console_with

    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    devices = int(os.environ.get("SOAK_DEVICES", "2000"))
    cars = int(os.environ.get("SOAK_CARS", "200"))
    limit = raise_nofile(2 * devices + 512)  # both ends of every device socket live here
    if limit < 2 * devices + 512:
        print(f"RLIMIT_NOFILE hard limit {limit}: fewer devices may come online")
    soak = Soak(minutes, float(os.environ.get("SOAK_ROUND_S", "60")))
    # Two more cars than connected: the charted pair keeps only its seeded history.
    settings = f"[demo]\ncars = {cars + 2}\nmicromobility = {devices}\n"
    SimDevice.count_records = True  # what was sent, as the console's codecs read it
    with tempfile.TemporaryDirectory() as tmp:
        report = run_console_with(soak.drive, Path(tmp) / "data", settings)
    for step in report.failures()[:10]:
        print(f"failed step {step.name}: {step.error.splitlines()[0] if step.error else ''}")
    print(f"failed steps by name: {dict(soak.failed)}; {soak.alive_error}")
    return soak.results(report)
