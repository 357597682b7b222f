"""Devices over MQTT under load: 2,000 ZIMO bikes publishing every 10 s into SQLite.

Three processes, as in production: the amqtt broker (BrokerProcess), the bikes (a child
process running SimZimoFleet, one MQTT connection per bike, every bike unlocked and on
the move), and this process: the console's MqttDeviceClient -> IotIngest ->
TelemetryWriter on a migrated SQLite file with the bikes registered as ``mqtt-zimo``
vehicles. Measured: reports per second stored, whether every published report was stored
(committed by the writer: ``IotIngest.records_stored``; the sample rows are reported too,
since the store keeps no row for a reading equal to the latest state, e.g. a bike stopped
at a light), and end-to-end latency from the bike's timestamp at publish to the commit,
in the steady state (from the moment every bike is connected). That latency is split in
two: publish -> the console's client receives it (the bikes' process and the broker) and
the console's own share, one received batch decoded, stored and committed.

Tunables (environment): BENCH_MQTT_DEVICES (2000), BENCH_MQTT_INTERVAL (10 s),
BENCH_MQTT_SECONDS (60).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from app.integrations.iot.commands import CommandTracker
from app.integrations.iot.mqtt.broker import BrokerProcess
from app.integrations.iot.mqtt.client import MqttConfig, MqttDeviceClient
from app.integrations.iot.mqtt.zimo import ZIMO
from app.integrations.iot.simulator.fleet import imei_for
from app.integrations.iot.sink import Received
from app.models.database import Database, sqlite_url
from app.models.orm import TelemetrySample
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.ingest import IotIngest
from app.services.tasks import TaskOwner
from app.services.telemetry.writer import TelemetryWriter
from tests.benchmarks.harness import Result

NAME = "iot_mqtt"


class TimedIngest(IotIngest):
    """The real ingest, timing each record from its device timestamp to the commit."""

    latencies: list[float]

    async def store(self, received: Sequence[Received]) -> None:
        await super().store(received)
        now = datetime.now(UTC)
        for read in received:
            for record in read.records:
                if record.fix_time is not None:
                    self.latencies.append((now - record.fix_time).total_seconds())


class TimedClient(MqttDeviceClient):
    """The real client, timing each publish from the bike's timestamp to its arrival here
    and each batch from arrival to commit (``_receive`` returns after the commit)."""

    arrivals: list[float]
    batches: list[float]

    async def _receive(self, batch: list) -> None:
        now, start = time.time(), time.perf_counter()
        for message in batch:
            self.arrivals.append(now - json.loads(message.payload)["timestamp"])
        await super()._receive(batch)
        self.batches.append(time.perf_counter() - start)


def _bikes(host: str, port: int, imeis: list[str], interval: float, seconds: float, pipe) -> None:
    """Child process: the bikes publish for ``seconds``, then report how many they sent."""
    from app.integrations.iot.simulator.mqtt_device import SimBikeSpec, SimZimoFleet

    async def main() -> None:
        fleet = SimZimoFleet(host, port, [SimBikeSpec(i, interval) for i in imeis], seed=1)
        for bike in fleet.bikes.values():
            bike.vehicle.locked, bike.vehicle.charging = False, False  # all on the move
            bike.vehicle.battery_pct = 100.0
        started = time.monotonic()
        await fleet.start(timeout=300)
        pipe.send(("connected", time.monotonic() - started))
        await asyncio.sleep(seconds)
        await fleet.stop()
        pipe.send(("published", fleet.published))

    asyncio.run(main())


def _register(db: Database, imeis: list[str]) -> None:
    VehicleRepository(db).add_many(
        [
            VehicleFields(
                name=f"Bike {n}",
                fleet_number=f"Z-{n:05d}",
                kind="ebike",
                imei=imei,
                connection_type="iot",
                iot_vendor="ZIMO",
                iot_protocol=ZIMO.protocol,
            )
            for n, imei in enumerate(imeis)
        ]
    )


async def _bench(n: int, interval: float, seconds: float) -> list[Result]:
    imeis = [imei_for(i, seed=42) for i in range(n)]
    broker = BrokerProcess()
    broker.start()
    tmp = tempfile.TemporaryDirectory()
    db = Database(sqlite_url(Path(tmp.name) / "fleet.sqlite"))
    db.migrate()
    _register(db, imeis)
    writer = TelemetryWriter(db)
    ingest = TimedIngest(db, writer)
    ingest.latencies = []
    await ingest.refresh()
    client = TimedClient(
        MqttConfig(broker.url, client_id="bench-console"), [ZIMO], ingest, CommandTracker()
    )
    client.arrivals, client.batches = [], []
    tasks = TaskOwner()
    tasks.spawn(writer.run, "writer", restart=True)
    tasks.spawn(ingest.run, "ingest", restart=True)
    tasks.spawn(client.run, "mqtt-client", restart=True)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(
        target=_bikes, args=(broker.host, broker.port, imeis, interval, seconds, theirs)
    )
    try:
        while not client.connected:
            await asyncio.sleep(0.05)
        proc.start()
        _, connect_s = await asyncio.to_thread(ours.recv)
        cpu0, t0, stored0 = time.process_time(), time.monotonic(), ingest.records_stored
        ingest.latencies = []  # the connect phase (2,000 handshakes) is not the steady state
        client.arrivals, client.batches = [], []
        _, published = await asyncio.to_thread(ours.recv)
        deadline = time.monotonic() + 60
        while client.stats.received < published and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await writer.flush()
        span = time.monotonic() - t0
        cpu = 100 * (time.process_time() - cpu0) / span
        stored = ingest.records_stored
        with db.session() as session:
            rows = session.scalar(select(func.count()).select_from(TelemetrySample)) or 0
    finally:
        proc.join(30)
        await tasks.shutdown()
        broker.stop()
        db.close()
        tmp.cleanup()

    def p(q: float, values: list[float] | None = None) -> float:
        ordered = sorted(ingest.latencies if values is None else values)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0

    expected_rate = n / interval
    rate = (stored - stored0) / span
    return [
        Result(NAME, "devices (one MQTT connection each)", n, "devices"),
        Result(NAME, "time to connect every device", connect_s, "s"),
        Result(NAME, "reports published", published, "reports"),
        Result(
            NAME,
            "reports stored (committed)",
            stored,
            "reports",
            f"= {published}",
            stored == published,
        ),
        Result(NAME, "telemetry_sample rows", rows, "rows"),
        Result(
            NAME,
            "reports stored per second",
            rate,
            "reports/s",
            f">= {expected_rate * 0.9:.0f}",
            rate >= expected_rate * 0.9,
        ),
        Result(NAME, "console process CPU", cpu, "% of a core"),
        Result(NAME, "publish -> commit latency p50", p(0.50), "ms"),
        Result(NAME, "publish -> commit latency p99", p(0.99), "ms", "< 1000", p(0.99) < 1000),
        Result(
            NAME, "of it: publish -> received (bikes, broker) p99", p(0.99, client.arrivals), "ms"
        ),
        Result(NAME, "of it: one batch received -> committed p99", p(0.99, client.batches), "ms"),
        Result(
            NAME,
            "refused publishes",
            client.stats.malformed + client.stats.unknown,
            "",
            "0",
            client.stats.malformed + client.stats.unknown == 0,
        ),
    ]


def run() -> list[Result]:
    n = int(os.environ.get("BENCH_MQTT_DEVICES", "2000"))
    interval = float(os.environ.get("BENCH_MQTT_INTERVAL", "10"))
    seconds = float(os.environ.get("BENCH_MQTT_SECONDS", "60"))
    return asyncio.run(_bench(n, interval, seconds))
