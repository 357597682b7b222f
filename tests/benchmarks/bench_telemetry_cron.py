"""Telemetry: (a) one cron cycle over 1,000 simulated cars, (b) ingest through the writer.

(a) The Smartcar simulator runs in its own process (as in ``bench_smartcar_poll``); 1,000
connections share one login's token. Measured: the wall time of the first full cycle
(every car polled once, readings handed to the writer) and HTTP requests per vehicle.

(b) 200,000 readings of 1,000 vehicles (every one a change, so none is deduplicated) go
through ``TelemetryWriter`` into SQLite; the ceiling is a plain ``sqlite3.executemany``
of the same rows into the same schema in one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from app.config import TelemetrySettings
from app.integrations.smartcar import (
    SmartcarClient,
    SmartcarCredentials,
    SmartcarOrigins,
    connect_scope_param,
)
from app.integrations.smartcar.transport import new_http_client
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection, TelemetrySample, Vehicle
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import _SAMPLE_COLUMNS, _sqlite_row
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.writer import TelemetryWriter
from tests.benchmarks.bench_smartcar_poll import CLIENT_ID, FLEET, OWNER, REDIRECT, SECRET
from tests.benchmarks.bench_smartcar_poll import _start_simulator as start_simulator
from tests.benchmarks.harness import Result
from tests.integration.integrations.smartcar.connect_walk import walk_connect

INGEST = 200_000
INGEST_VEHICLES = 1000
NAME = "telemetry_cron"


def _database(folder: Path, vehicles: int) -> Database:
    db = Database(sqlite_url(folder / "fleet.sqlite"))
    db.migrate()
    now = datetime.now(UTC)
    with db.session() as session:
        session.add_all(
            Vehicle(name=f"V{i}", fleet_number=f"V-{i}", kind="car", created_at=now, updated_at=now)
            for i in range(vehicles)
        )
    return db


async def _cycle(base_url: str, folder: Path) -> tuple[float, int, int]:
    sent = 0

    async def count(request: httpx.Request) -> None:
        nonlocal sent
        sent += 1

    http = new_http_client(httpx.Timeout(60.0), max_connections=32)
    http.event_hooks["request"].append(count)
    creds = SmartcarCredentials(CLIENT_ID, SECRET, REDIRECT)
    db = _database(folder, FLEET)
    async with http, SmartcarClient(SmartcarOrigins.for_simulator(base_url), creds, http=http) as c:
        url = c.auth.connect_url([*connect_scope_param()], "bench", mode="simulated")
        redirect = await asyncio.to_thread(walk_connect, url, email=OWNER)
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        token = (await c.auth.exchange_code(code)).access_token
        ids = await c.all_vehicle_ids(token)
        with db.session() as session:
            session.add_all(
                SmartcarConnection(vehicle_id=i + 1, smartcar_vehicle_id=sid, status="active")
                for i, sid in enumerate(ids)
            )

        async def fresh(connection_id: int, *, rejected: str | None = None) -> str | None:
            return token

        async def expired(connection_id: int, reason: str) -> None:
            raise AssertionError(reason)

        writer = TelemetryWriter(db)
        settings = TelemetrySettings(monthly_request_budget=1_000_000)
        cron = TelemetryCron(
            c, writer, db, ensure_fresh_token=fresh, mark_expired=expired, settings=settings
        )
        tasks = [asyncio.create_task(writer.run()), asyncio.create_task(cron.run())]
        sent = 0
        while cron.status().last_cycle_at is None:
            await asyncio.sleep(0.01)
        status = cron.status()
        await writer.flush()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    with db.session() as session:
        stored = session.scalar(select(func.count(TelemetrySample.id))) or 0
    db.close()
    assert status.last_cycle_vehicles == FLEET and status.last_cycle_errors == 0
    return status.last_cycle_duration_s or 0.0, sent, stored


def _readings() -> list[TelemetryReading]:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        TelemetryReading(
            vehicle_id=1 + i % INGEST_VEHICLES,
            source="iot",
            recorded_at=t0 + timedelta(seconds=i),
            received_at=t0 + timedelta(seconds=i, milliseconds=300),
            lat=52.5 + i * 1e-7,
            lon=13.4,
            speed=float(i % 40),
            battery=80.0 - (i % 500) / 10,
            odometer=1000.0 + i / 100,
            locked=bool(i % 2),
        )
        for i in range(INGEST)
    ]


async def _through_writer(db: Database, readings: list[TelemetryReading]) -> float:
    writer = TelemetryWriter(db)
    task = asyncio.create_task(writer.run())
    start = time.perf_counter()
    for first in range(0, len(readings), 1000):  # producers hand over small chunks
        writer.submit_many(readings[first : first + 1000])
        await asyncio.sleep(0)
    await writer.flush()
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert writer.status().samples_written == len(readings)
    return elapsed


def _plain_insert(db: Database, readings: list[TelemetryReading]) -> float:
    rows = [_sqlite_row(r) for r in readings]  # prepared up front: only the insert is timed
    sql = (
        f"INSERT INTO telemetry_sample ({', '.join(_SAMPLE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_SAMPLE_COLUMNS))})"
    )
    assert db.file is not None
    connection = sqlite3.connect(db.file)
    connection.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    with connection:
        connection.executemany(sql, rows)
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc, base_url = start_simulator()
        try:
            (folder / "cycle").mkdir()
            cycle_s, sent, stored = asyncio.run(_cycle(base_url, folder / "cycle"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        readings = _readings()
        (folder / "writer").mkdir()
        (folder / "plain").mkdir()
        writer_db = _database(folder / "writer", INGEST_VEHICLES)
        writer_s = asyncio.run(_through_writer(writer_db, readings))
        writer_db.close()
        plain_db = _database(folder / "plain", INGEST_VEHICLES)
        plain_s = _plain_insert(plain_db, readings)
        plain_db.close()
    writer_rate, plain_rate = INGEST / writer_s, INGEST / plain_s
    share = writer_rate / plain_rate
    return [
        Result(NAME, f"one cycle over {FLEET} cars (20 in flight)", cycle_s, "s"),
        Result(
            NAME, "HTTP requests per vehicle per cycle", sent / FLEET, "req", "1", sent == FLEET
        ),
        Result(NAME, "samples stored after the cycle", stored, "rows", f"{FLEET}", stored == FLEET),
        Result(
            NAME,
            f"ingest through the writer ({INGEST:,} readings)",
            writer_rate,
            "samples/s",
            ">= 50,000",
            writer_rate >= 50_000,
        ),
        Result(NAME, "plain bulk insert of the same rows (ceiling)", plain_rate, "samples/s"),
        Result(NAME, "writer / ceiling", share * 100, "%", ">= 30 %", share >= 0.30),
    ]
