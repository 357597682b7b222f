"""Telemetry ingest into PostgreSQL: the TelemetryWriter against plain bulk inserts.

The same 200,000 readings of 1,000 vehicles as ``bench_telemetry_cron`` (every one a
change, so none is deduplicated) go through ``TelemetryWriter`` into a throwaway
PostgreSQL 15 (tests/helpers/postgres.py: local socket, fsync off, so disk speed does not
decide). The ceiling is the fastest plain way to put the same rows into the same schema:
one ``COPY ... FROM STDIN`` in one transaction; psycopg's pipelined ``executemany`` is
reported beside it for scale. Each run gets a fresh database.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import func, select

from app.models.database import Database
from app.models.orm import TelemetrySample, Vehicle
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import _SAMPLE_COLUMNS, _row
from tests.benchmarks.bench_telemetry_cron import INGEST, INGEST_VEHICLES, _readings
from tests.benchmarks.bench_telemetry_cron import _through_writer as through_writer
from tests.benchmarks.harness import Result
from tests.helpers.postgres import PostgresServer, running_postgres

NAME = "ingest_pg"
TARGET_SHARE = 0.30


def _database(server: PostgresServer) -> Database:
    db = Database(server.create_database("bench"))
    db.migrate()
    now = datetime.now(UTC)
    with db.session() as session:
        session.add_all(
            Vehicle(name=f"V{i}", fleet_number=f"V-{i}", kind="car", created_at=now, updated_at=now)
            for i in range(INGEST_VEHICLES)
        )
    return db


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)  # how orm.UtcDateTime stores it


def _pg_rows(readings: list[TelemetryReading]) -> list[tuple[Any, ...]]:
    return [_row(r, _naive_utc, lambda d: None if d is None else Jsonb(d)) for r in readings]


def _dsn(db: Database) -> str:
    url = db.engine.url
    return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"


def _copy(db: Database, rows: list[tuple[Any, ...]]) -> float:
    sql = f"COPY telemetry_sample ({', '.join(_SAMPLE_COLUMNS)}) FROM STDIN"
    with psycopg.connect(_dsn(db)) as connection:
        start = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return time.perf_counter() - start


def _executemany(db: Database, rows: list[tuple[Any, ...]]) -> float:
    sql = (
        f"INSERT INTO telemetry_sample ({', '.join(_SAMPLE_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_SAMPLE_COLUMNS))})"
    )
    with psycopg.connect(_dsn(db)) as connection:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        connection.commit()
        return time.perf_counter() - start


def _stored(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(TelemetrySample.id))) or 0


def _measure(server: PostgresServer, timed: Any, *args: Any) -> float:
    db = _database(server)
    try:
        elapsed = timed(db, *args)
        assert _stored(db) == INGEST, "not every reading became a row"
        return elapsed
    finally:
        db.close()


def run() -> list[Result]:
    readings = _readings()
    rows = _pg_rows(readings)  # prepared up front: only the inserts are timed
    with running_postgres() as server:
        writer_s = _measure(server, lambda db: asyncio.run(through_writer(db, readings)))
        copy_s = _measure(server, _copy, rows)
        many_s = _measure(server, _executemany, rows)
    writer_rate, copy_rate, many_rate = INGEST / writer_s, INGEST / copy_s, INGEST / many_s
    share = writer_rate / copy_rate
    return [
        Result(
            NAME, f"ingest through the writer ({INGEST:,} readings, PostgreSQL)", writer_rate,
            "samples/s",
        ),
        Result(NAME, "plain COPY of the same rows (ceiling)", copy_rate, "samples/s"),
        Result(NAME, "plain executemany of the same rows", many_rate, "samples/s"),
        Result(
            NAME, "writer / ceiling", share * 100, "%", f">= {TARGET_SHARE:.0%}",
            share >= TARGET_SHARE,
        ),
        Result(NAME, "writer / executemany", writer_rate / many_rate * 100, "%"),
    ]  # fmt: skip
