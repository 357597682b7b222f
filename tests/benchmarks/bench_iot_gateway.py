"""IoT gateway under load: N concurrent device connections, a fixed total frame rate.

The gateway runs in this process; the load generator (N device connections, paced sends,
ACK timing) runs in a child process so it does not steal the gateway's core. Measured:
memory per idle identified connection (RSS delta / N, before any traffic, first run
only), records stored per second, whether every frame was stored, and ACK latency.

Two sinks, reported as separate benchmarks:

* ``count``: a sink that only counts, so the numbers are the gateway's own ceiling.
* ``sqlite``: what the console really runs, ``IotIngest`` on a ``TelemetryWriter`` on a
  migrated SQLite file, with the N IMEIs registered as the iot_device rows of N vehicles.
  "All stored" is then the row count of telemetry_sample, not a counter of the sink.

Every frame a device sends carries a new fix time and position (a scooter on the move),
so none of them is a re-send the ingest may dedupe or an unchanged reading the store may
skip: frames sent and rows stored must match exactly.

Tunables (environment): BENCH_IOT_CONNECTIONS (10000), BENCH_IOT_RATE (20000 frames/s),
BENCH_IOT_SECONDS (30), BENCH_IOT_PROTOCOL (gt06; a comma list runs several),
BENCH_IOT_SINK (count,sqlite; one of them runs just that one).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from app.integrations.iot.codecs.gt06_build import build_location, build_login
from app.integrations.iot.codecs.omni import build_frame
from app.integrations.iot.codecs.teltonika_build import (
    AvlSample,
    build_avl_packet,
    build_imei_handshake,
)
from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.profiles import vendor_for_protocol
from app.integrations.iot.sink import Received, RecordSink
from app.models.database import Database, sqlite_url
from app.models.orm import IotDevice, TelemetrySample, Vehicle
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from tests.benchmarks.harness import Result

NAMES = {"count": "iot_gateway", "sqlite": "iot_gateway (SQLite ingest)"}
# Fix times start an hour back (a device sending its track), one second per lap of the
# devices: unique per device, and never "in the future" however long the run.
_FIX_EPOCH = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@dataclass(frozen=True)
class Workload:
    """How one protocol's device logs in and sends ACKed data frames (real builders).

    ``data(imei, index, lap)`` is the device's frame of lap ``lap`` (its lap-th send).
    """

    protocol: str
    login: Callable[[str], bytes]
    data: Callable[[str, int, int], bytes]
    login_ack_len: int
    data_ack_len: int


def _place(index: int, lap: int) -> tuple[float, float]:
    """Where device ``index`` is on lap ``lap``: it moves ~10 m north per lap."""
    return 52.5 + (index % 1000) / 10_000 + lap / 10_000, 13.4 + (index % 700) / 10_000


def _fix_time(lap: int) -> datetime:
    return _FIX_EPOCH + timedelta(seconds=lap)


def _teltonika_data(imei: str, index: int, lap: int) -> bytes:
    lat, lon = _place(index, lap)
    sample = AvlSample(_fix_time(lap), lat, lon, 12.0, 90.0, 80.0, False, 1.5)
    return build_avl_packet([sample])


def _gt06_data(imei: str, index: int, lap: int) -> bytes:
    lat, lon = _place(index, lap)
    return build_location(_fix_time(lap), lat, lon, 12.0, 90.0, serial=(index + lap) & 0xFFFF)


def _omni_ack_len(kind: str) -> int:
    return len(f"*SCOS,OM,{0:015d},{kind}#".encode()) + 3  # FF FF prefix and newline


WORKLOADS = {
    "gt06": Workload("gt06", lambda imei: build_login(imei, 1), _gt06_data, 10, 10),
    "teltonika": Workload("teltonika", build_imei_handshake, _teltonika_data, 1, 4),
    # Omni ACKs only lock replies and alarms, so the login is an L0 reply and the load W0
    "omni": Workload(
        "omni",
        lambda imei: build_frame(imei, "L0", 0, 0, 0),
        lambda imei, _i, _lap: build_frame(imei, "W0", 3),
        _omni_ack_len("L0"),
        _omni_ack_len("W0"),
    ),
}


def imeis_for(n: int) -> list[str]:
    """The IMEIs of the N simulated devices (the generator and the registry agree on them)."""
    return [f"86{i:013d}" for i in range(n)]


class CountingSink:
    """Counts what it is given; the ``count`` run measures the gateway, not a database."""

    def __init__(self) -> None:
        self.count = 0
        self.last_store = 0.0

    async def store(self, received: Sequence[Received]) -> None:
        self.count += sum(len(read.records) for read in received)
        self.last_store = time.perf_counter()

    def is_known(self, device_id: str, protocol: str) -> bool:
        return True

    async def unknown_device(
        self, device_id: str, protocol: str, peer: str, *, hint: str = ""
    ) -> None:
        raise AssertionError("every benchmark device is known")

    def rejected(self, device_id: str, protocol: str, peer: str, data: bytes, reason: str) -> None:
        raise AssertionError(f"benchmark frame rejected: {reason}")


def raise_nofile(wanted: int) -> int:
    """Raise the soft fd limit toward ``wanted`` (capped by the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu_seconds() -> float:
    """User + system CPU of this process (the gateway; the load generator is a child)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- load generator (child process) ------------------------------------------------------


class _Device(asyncio.Protocol):
    __slots__ = ("acks", "buf", "gen", "logged_in", "sent", "transport")

    def __init__(self, gen: _Generator):
        self.gen = gen
        self.buf = b""
        self.sent: deque[float] = deque()
        self.logged_in = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buf += data
        if not self.logged_in and len(self.buf) >= self.gen.workload.login_ack_len:
            self.buf = self.buf[self.gen.workload.login_ack_len :]
            self.logged_in = True
            self.gen.logins += 1
        size = self.gen.workload.data_ack_len
        while len(self.buf) >= size and self.sent:
            self.buf = self.buf[size:]
            self.gen.latencies.append(now - self.sent.popleft())

    def connection_lost(self, exc) -> None:
        self.gen.lost += 1


class _Generator:
    def __init__(self, workload: Workload):
        self.workload = workload
        self.latencies: list[float] = []
        self.logins = self.lost = 0

    async def run(self, port: int, n: int, rate: float, seconds: float, pipe) -> None:
        loop = asyncio.get_running_loop()
        devices: list[_Device] = []
        imeis = imeis_for(n)
        for start in range(0, n, 500):  # batches keep the listen backlog from overflowing
            batch = await asyncio.gather(
                *(
                    loop.create_connection(lambda: _Device(self), "127.0.0.1", port)
                    for _ in range(start, min(n, start + 500))
                )
            )
            devices.extend(proto for _tr, proto in batch)
        for device, imei in zip(devices, imeis, strict=True):
            device.transport.write(self.workload.login(imei))
        deadline = time.monotonic() + 60
        while self.logins < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Built up front, one lap per round of sends (plus one spare): building them while
        # sending would slow the pacing loop down.
        laps = int(rate * seconds) // n + 2
        frames = [
            [self.workload.data(imei, i, lap) for i, imei in enumerate(imeis)]
            for lap in range(laps)
        ]
        pipe.send(("ready", self.logins))
        await loop.run_in_executor(None, pipe.recv)  # "go"
        sent, nxt, lap = 0, 0, 0
        began = time.perf_counter()
        while (elapsed := time.perf_counter() - began) < seconds:
            due = int(rate * elapsed) - sent
            for _ in range(due):
                device = devices[nxt]
                device.sent.append(time.perf_counter())
                device.transport.write(frames[lap][nxt])
                nxt += 1
                if nxt == n:
                    nxt, lap = 0, lap + 1
            sent += max(due, 0)
            await asyncio.sleep(0.002)
        send_seconds = time.perf_counter() - began
        drain_deadline = time.monotonic() + 20
        while len(self.latencies) < sent and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.05)
        pipe.send(("done", sent, send_seconds, self.latencies, self.lost))
        for device in devices:
            device.transport.close()
        await asyncio.sleep(0.5)


def _generator_main(port: int, n: int, rate: float, seconds: float, protocol: str, pipe) -> None:
    raise_nofile(n + 64)
    asyncio.run(_Generator(WORKLOADS[protocol]).run(port, n, rate, seconds, pipe))


# -- the sinks ---------------------------------------------------------------------------


@dataclass
class Rig:
    """A sink, when it last stored, and how many records it holds (as it counts them)."""

    sink: RecordSink
    last_store: Callable[[], float]
    stored: Callable[[], Awaitable[int]]
    stored_metric: str  # what the all-stored check compares with the frames sent


@asynccontextmanager
async def counting_rig(_protocol: str, _n: int) -> AsyncIterator[Rig]:
    sink = CountingSink()

    async def stored() -> int:
        return sink.count

    yield Rig(sink, lambda: sink.last_store, stored, "frames stored / sent")


def register_devices(db: Database, protocol: str, n: int) -> None:
    """N scooters with one registered device each: two Core executemany calls, because
    setup time is not what is measured (the ORM's add_many builds an object per row)."""
    now, vendor = datetime.now(UTC), vendor_for_protocol(protocol)
    vehicles = [
        {
            "id": i + 1,
            "name": f"Scooter {i}",
            "fleet_number": f"B-{i:06d}",
            "kind": "scooter",
            "imei": imei,
            "connection_type": "iot",
            "created_at": now,
            "updated_at": now,
        }
        for i, imei in enumerate(imeis_for(n))
    ]
    devices = [
        {"vehicle_id": i + 1, "vendor": vendor, "protocol": protocol, "device_id": imei}
        for i, imei in enumerate(imeis_for(n))
    ]
    with db.session() as session:
        session.execute(insert(Vehicle), vehicles)
        session.execute(insert(IotDevice), devices)


def count_samples(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(TelemetrySample)) or 0


@asynccontextmanager
async def sqlite_rig(protocol: str, n: int) -> AsyncIterator[Rig]:
    """The console's own ingest path (as ``start_telemetry`` and ``start_iot`` wire it)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Database(sqlite_url(Path(tmp) / "fleet.sqlite")) as db,
    ):
        db.migrate()
        register_devices(db, protocol, n)
        writer = TelemetryWriter(db)
        ingest = IotIngest(db, writer)
        await ingest.refresh()
        committed = [0.0]
        writer.commits.subscribe(lambda _vehicles: committed.__setitem__(0, time.perf_counter()))
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]

        async def stored() -> int:
            await writer.flush()
            return await db.run(count_samples, db)

        try:
            yield Rig(
                ingest, lambda: committed[0], stored, "rows in telemetry_sample / frames sent"
            )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


RIGS = {"count": counting_rig, "sqlite": sqlite_rig}


# -- the benchmark -----------------------------------------------------------------------


async def _bench(
    n: int, rate: float, seconds: float, protocol: str, sink_kind: str, measure_memory: bool
) -> list[Result]:
    async with RIGS[sink_kind](protocol, n) as rig:
        return await _measure(rig, NAMES[sink_kind], n, rate, seconds, protocol, measure_memory)


async def _measure(
    rig: Rig, name: str, n: int, rate: float, seconds: float, protocol: str, measure_memory: bool
) -> list[Result]:
    cfg = GatewayConfig(
        ports={protocol: 0},
        host="127.0.0.1",
        identify_timeout=600,
        partial_frame_timeout=600,
        idle_timeout=3600,
    )
    results: list[Result] = []
    loop = asyncio.get_running_loop()
    async with IotGateway(cfg, rig.sink) as gateway:
        gc.collect()
        rss_before = rss_bytes()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_generator_main,
            args=(gateway.ports[protocol], n, rate, seconds, protocol, child),
        )
        proc.start()
        _, logins = await loop.run_in_executor(None, parent.recv)
        gc.collect()
        per_conn = (rss_bytes() - rss_before) / max(gateway.stats.connections, 1)
        stored_before = await rig.stored()
        parent.send("go")
        began = time.perf_counter()
        cpu_before = _cpu_seconds()
        _, sent, send_seconds, latencies, lost = await loop.run_in_executor(None, parent.recv)
        busy = 100 * (_cpu_seconds() - cpu_before) / (time.perf_counter() - began)
        took = rig.last_store() - began  # up to the last store, not the report round trip
        stored = await rig.stored() - stored_before
        await loop.run_in_executor(None, proc.join, 30)
    latencies.sort()

    def p(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    offered, stored_rate = sent / send_seconds, stored / took
    results += [
        Result(name, f"{protocol} connections identified", logins, "conn", f">= {n}", logins >= n),
        Result(
            name,
            "frames offered per second",
            offered,
            "frames/s",
            f">= {rate:.0f}",
            offered >= rate * 0.98,
        ),
        Result(
            name,
            "frames stored per second",
            stored_rate,
            "frames/s",
            f">= {rate:.0f}",
            stored_rate >= rate * 0.98,
        ),
        Result(
            name,
            rig.stored_metric,
            100 * stored / max(sent, 1),
            "%",
            "100",
            stored == sent,
        ),
        Result(name, "gateway process CPU while loaded", busy, "% of a core"),
        Result(name, "ACK latency p50", p(0.50), "ms"),
        Result(name, "ACK latency p99", p(0.99), "ms", "< 100", p(0.99) < 100),
        Result(name, "connections lost", lost, "conn", "0", lost == 0),
        Result(
            name,
            "frame errors",
            gateway.stats.frame_errors,
            "",
            "0",
            gateway.stats.frame_errors == 0,
        ),
    ]
    if measure_memory:
        results.insert(
            1, Result(name, "memory per idle connection", per_conn, "B", "< 8192", per_conn < 8192)
        )
    if latencies:
        results.append(Result(name, "ACK latency mean", statistics.fmean(latencies) * 1000, "ms"))
    return results


def run() -> list[Result]:
    wanted = int(os.environ.get("BENCH_IOT_CONNECTIONS", "10000"))
    rate = float(os.environ.get("BENCH_IOT_RATE", "20000"))
    seconds = float(os.environ.get("BENCH_IOT_SECONDS", "30"))
    protocols = os.environ.get("BENCH_IOT_PROTOCOL", "gt06").split(",")
    sinks = os.environ.get("BENCH_IOT_SINK", "count,sqlite").split(",")
    unknown = set(sinks) - set(RIGS)
    if unknown:
        raise ValueError(f"BENCH_IOT_SINK: unknown sinks {sorted(unknown)}; known: {list(RIGS)}")
    limit = raise_nofile(wanted + 64)
    n = min(wanted, limit - 64)
    if n < wanted:
        print(f"RLIMIT_NOFILE hard limit {limit}: scaled connections down to {n}")
    # RSS only grows honestly in a fresh process: later runs reuse the first run's memory
    runs = [(p, sink) for p in protocols for sink in sinks]
    return [
        r
        for i, (p, sink) in enumerate(runs)
        for r in asyncio.run(_bench(n, rate, seconds, p, sink, measure_memory=i == 0))
    ]
