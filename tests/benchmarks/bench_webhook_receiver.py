"""Webhook receiver: signed VEHICLE_STATE deliveries verified, stored and acknowledged.

The console's own parts: :class:`WebhookReceiver` (aiohttp) in front of
:class:`WebhookIngest` and the one :class:`TelemetryWriter`, into a migrated SQLite file
and a throwaway PostgreSQL (tests/helpers/postgres.py). 200 cars with V3 connections; each
delivery is a realistic payload (location, odometer, battery, lock, doors) with its own
event id, compact JSON signed like Smartcar's. The load comes from a separate process
(so the sender does not share the receiver's loop) with 64 deliveries in flight, and every
delivery's ACK latency is measured from send to the 200.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from app.integrations.smartcar.webhook_receiver import ReceiverConfig, WebhookReceiver
from app.integrations.smartcar.webhooks import sign
from app.models.connections import ConnectionRepository
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection, Vehicle
from app.services.telemetry.writer import TelemetryWriter
from app.services.webhooks.ingest import WebhookIngest
from tests.benchmarks.harness import Result
from tests.helpers.postgres import running_postgres

NAME = "webhook_receiver"
CARS = 200
DELIVERIES = 6000
IN_FLIGHT = 64
KEY = "bench-management-token"
TARGET_RATE, TARGET_P99_MS = 1000.0, 200.0


def _setup(db: Database) -> None:
    db.migrate()
    now = datetime.now(UTC)
    with db.session() as s:
        for i in range(CARS):
            v = Vehicle(
                name=f"Car {i}", fleet_number=f"C-{i}", kind="car", created_at=now, updated_at=now
            )
            s.add(v)
            s.flush()
            s.add(
                SmartcarConnection(
                    vehicle_id=v.id,
                    smartcar_vehicle_id=f"veh-{i}",
                    smartcar_user_id="user-1",
                    status="active",
                    api_version="3",
                    webhook_state="subscribed",
                    granted_scopes=[],
                )
            )


def payload(n: int) -> bytes:
    car = n % CARS
    ms = time.time() * 1000
    signal = lambda code, body: {  # noqa: E731
        "code": code,
        "body": body,
        "status": {"value": "SUCCESS"},
        "meta": {"retrievedAt": ms, "oemUpdatedAt": ms - n},
    }
    body = {
        "eventId": f"bench-{n}",
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": "user-1"},
            "vehicle": {"id": f"veh-{car}", "make": "TESLA", "model": "Model 3", "year": 2019},
            "signals": [
                signal(
                    "location-preciselocation", {"latitude": 52.5 + n * 1e-6, "longitude": 13.4}
                ),
                signal("odometer-traveleddistance", {"value": 10_000 + n * 0.01, "unit": "km"}),
                signal(
                    "tractionbattery-stateofcharge", {"value": 80 - (n % 50), "unit": "percent"}
                ),
                signal("closure-islocked", {"value": n % 2 == 0}),
                signal(
                    "closure-doors",
                    {"values": [{"row": 0, "column": 0, "isOpen": False, "isLocked": True}]},
                ),
            ],
        },
        "triggers": [{"type": "SIGNAL_UPDATED"}],
        "meta": {"version": "4.0", "deliveryId": f"d-{n}", "deliveredAt": ms},
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def _load(url: str, count: int) -> None:
    """Child process: send ``count`` signed deliveries, print latencies (ms) as JSON.

    aiohttp's client, not httpx: httpx tops out near 500 requests/s on this machine even
    against a server that answers at once, which would measure the sender, not us.
    """
    import aiohttp

    bodies = [(b, sign(KEY, b)) for b in (payload(n) for n in range(count))]
    latencies: list[float] = []
    failures = 0
    gate = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(body: bytes, signature: str) -> None:
            nonlocal failures
            async with gate:
                started = time.perf_counter()
                headers = {"content-type": "application/json", "SC-Signature": signature}
                async with http.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    failures += answer.status != 200
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(one(b, s) for b, s in bodies))
        elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "latencies": latencies, "failures": failures}))


async def _measure(db: Database, label: str) -> list[Result]:
    writer = TelemetryWriter(db)
    ingest = WebhookIngest(db, ConnectionRepository(db), writer, changed=lambda vid: None)
    receiver = WebhookReceiver(ReceiverConfig(port=0), KEY, ingest)
    url = await receiver.start()
    writer_task = asyncio.ensure_future(writer.run())
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.bench_webhook_receiver",
            url,
            str(DELIVERIES),
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        out, _ = await child.communicate()
        report = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        await writer.flush()
        writer_task.cancel()
        await receiver.stop()
    with db.engine.connect() as connection:
        from sqlalchemy import text

        events = connection.execute(text("SELECT count(*) FROM webhook_event")).scalar_one()
    latencies = sorted(report["latencies"])
    rate = DELIVERIES / report["elapsed"]
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"{label}: {events} events stored, {report['failures']} non-200 answers")
    return [
        Result(
            NAME,
            f"{label}: deliveries/s",
            rate,
            "/s",
            f">= {TARGET_RATE:,.0f}",
            rate >= TARGET_RATE,
        ),
        Result(NAME, f"{label}: ACK p50", p50, "ms"),
        Result(
            NAME, f"{label}: ACK p99", p99, "ms", f"< {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS
        ),
        Result(
            NAME,
            f"{label}: stored / sent",
            events / DELIVERIES * 100,
            "%",
            "100 %",
            events == DELIVERIES,
        ),
    ]


def run() -> list[Result]:
    results = []
    with TemporaryDirectory() as tmp:
        db = Database(sqlite_url(Path(tmp) / "bench.db"))
        _setup(db)
        results += asyncio.run(_measure(db, "SQLite"))
        db.close()
    with running_postgres() as server:
        db = Database(server.create_database("webhooks"))
        _setup(db)
        results += asyncio.run(_measure(db, "PostgreSQL"))
        db.close()
    return results


if __name__ == "__main__":
    asyncio.run(_load(sys.argv[1], int(sys.argv[2])))
