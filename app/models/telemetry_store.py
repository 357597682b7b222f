"""Writes telemetry batches: history rows, the latest state, poll bookkeeping, one transaction.

Called on the database thread by :class:`app.services.telemetry.writer.TelemetryWriter`
(never from the UI loop). One ``write_batch`` call is one transaction, so a crash leaves
either the whole batch or none of it.

History stays small without losing information:

* A reading whose every carried value equals the vehicle's latest known value is **not**
  stored as a sample (a parked car polled every five minutes, a scooter heartbeat); only
  ``vehicle_state.last_heard_at`` moves. Timestamps and ``raw`` are ignored in that
  comparison. Exception: after ``heartbeat_s`` without a stored sample the reading is kept
  anyway, so a chart can tell "unchanged for hours" from "no data" (gap detection).
* ``vehicle_state`` merges readings value by value: each column keeps the value with the
  newest ``recorded_at`` (``field_times`` holds that time per column), so a late IoT frame
  or a poll where one item failed never replaces a newer value with an older one or None.

Readings for vehicles that do not exist are dropped with a log line (never a failed
batch). The latest state of every vehicle written is cached in memory; the cache only
changes after a successful commit.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import operator
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.models.database import Database
from app.models.orm import TelemetrySample, Vehicle, VehicleState
from app.models.telemetry_connections import ConnectionPollUpdate, apply_updates
from app.models.telemetry_reading import DroppedReading, TelemetryReading, sanitize
from app.models.webhook_events import WebhookDelivery, record_deliveries

logger = logging.getLogger(__name__)

#: Reading attribute -> column (same name in telemetry_sample and vehicle_state).
FIELD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lat", "latitude"),
    ("lon", "longitude"),
    ("speed", "speed_kmh"),
    ("course", "course_deg"),
    ("fuel", "fuel_pct"),
    ("battery", "battery_pct"),
    ("range", "range_km"),
    ("odometer", "odometer_km"),
    ("locked", "locked"),
    ("doors", "doors"),
    ("tires_kpa", "tires_kpa"),
    ("oil_life", "oil_life_pct"),
    ("charging", "charging"),
)
STATE_COLUMNS = tuple(column for _, column in FIELD_COLUMNS)
_field_values = operator.attrgetter(*(attr for attr, _ in FIELD_COLUMNS))
_SAMPLE_COLUMNS = ("vehicle_id", "source", "recorded_at", "received_at", *STATE_COLUMNS, "raw")
#: Positions of the JSON columns in a ``_state_row`` (after the vehicle id).
_JSON_CELLS = tuple(1 + STATE_COLUMNS.index(c) for c in ("doors", "tires_kpa"))
_PG_COPY = f"COPY telemetry_sample ({', '.join(_SAMPLE_COLUMNS)}) FROM STDIN"
_STATE_TAIL = (*STATE_COLUMNS, "field_times", "recorded_at", "last_heard_at")
DEFAULT_HEARTBEAT_S = 3600.0
_NEVER = -math.inf


@dataclass(slots=True)
class _Known:
    """The latest state of one vehicle as stored (or about to be)."""

    exists: bool
    values: dict[str, Any] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    recorded_at: datetime | None = None
    last_heard_at: datetime | None = None
    last_sample_ts: float = -math.inf

    def copy(self) -> _Known:
        return _Known(
            self.exists,
            dict(self.values),
            dict(self.times),
            self.recorded_at,
            self.last_heard_at,
            self.last_sample_ts,
        )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch did; ``vehicles`` are those whose vehicle_state row was written."""

    stored: int = 0
    duplicates: int = 0
    dropped_readings: int = 0
    dropped_fields: int = 0
    vehicles: frozenset[int] = frozenset()


@lru_cache(maxsize=4096)
def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores, so both write paths read back alike.

    Cached because a batch formats the same instants again and again (one received_at per
    gateway batch; a reading's recorded_at in its sample row and again in vehicle_state).
    Equal aware datetimes are the same instant, so they have the same UTC text.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


class TelemetryStore:
    """Blocking batch writer; run ``write_batch`` on the database thread only."""

    def __init__(self, database: Database, *, heartbeat_s: float | None = DEFAULT_HEARTBEAT_S):
        self._db = database
        self._heartbeat_s = math.inf if heartbeat_s is None else heartbeat_s
        self._known: dict[int, _Known] = {}
        self._sqlite_insert = _SqliteRows("telemetry_sample", _SAMPLE_COLUMNS)
        self._sqlite_upsert = _SqliteRows(
            "vehicle_state",
            ("vehicle_id", *_STATE_TAIL),
            " ON CONFLICT(vehicle_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _STATE_TAIL),
        )

    def forget(self, vehicle_id: int) -> None:
        """Drop the cached state of a vehicle (after it was deleted or edited elsewhere)."""
        self._known.pop(vehicle_id, None)

    def write_batch(
        self,
        readings: Sequence[TelemetryReading],
        connection_updates: Sequence[ConnectionPollUpdate] = (),
        deliveries: Sequence[WebhookDelivery] = (),
    ) -> BatchOutcome:
        """Store ``readings``, ``connection_updates`` and webhook ``deliveries`` in one
        transaction.

        Raises SQLAlchemyError when the database cannot take the batch (full disk, locked,
        gone): nothing is stored then and the caller keeps the batch for a retry. A
        constraint violation (a vehicle deleted meanwhile) is retried reading by reading
        so one bad row cannot hold the rest back.
        """
        try:
            return self._write(readings, connection_updates, deliveries)
        except IntegrityError:
            logger.warning("telemetry batch hit a constraint; storing it reading by reading")
            self._known.clear()
        bookkeeping = connection_updates or deliveries
        totals = [self._write((), connection_updates, deliveries)] if bookkeeping else []
        for reading in readings:
            try:
                totals.append(self._write((reading,), (), ()))
            except IntegrityError as exc:
                logger.warning(
                    "telemetry: dropped a reading of vehicle %s: %s", reading.vehicle_id, exc
                )
                self._known.clear()
                totals.append(BatchOutcome(dropped_readings=1))
        return BatchOutcome(
            stored=sum(t.stored for t in totals),
            duplicates=sum(t.duplicates for t in totals),
            dropped_readings=sum(t.dropped_readings for t in totals),
            dropped_fields=sum(t.dropped_fields for t in totals),
            vehicles=frozenset().union(*(t.vehicles for t in totals)),
        )

    def _write(
        self,
        readings: Sequence[TelemetryReading],
        updates: Sequence[ConnectionPollUpdate],
        deliveries: Sequence[WebhookDelivery],
    ) -> BatchOutcome:
        clean: list[TelemetryReading] = []
        dropped_readings = dropped_fields = duplicates = 0
        for reading in readings:
            try:
                good, bad_fields = sanitize(reading)
            except DroppedReading as exc:
                logger.warning("telemetry: dropped a reading: %s", exc)
                dropped_readings += 1
                continue
            clean.append(good)
            dropped_fields += bad_fields
        with self._db.engine.begin() as connection:
            self._load_known(connection, {r.vehicle_id for r in clean})
            work: dict[int, _Known] = {}
            samples: list[TelemetryReading] = []
            for reading in clean:
                vid = reading.vehicle_id
                known = work.get(vid)
                if known is None:
                    cached = self._known.get(vid)
                    if cached is None:
                        logger.warning("telemetry: dropped a reading of unknown vehicle %s", vid)
                        dropped_readings += 1
                        continue
                    known = work[vid] = cached.copy()
                if self._merge(known, reading):
                    samples.append(reading)
                else:
                    duplicates += 1
            self._insert_samples(connection, samples)
            self._write_states(connection, work)
            if updates:
                apply_updates(connection, updates)
            record_deliveries(connection, deliveries)
        for vid, known in work.items():
            known.exists = True
            self._known[vid] = known
        return BatchOutcome(
            len(samples), duplicates, dropped_readings, dropped_fields, frozenset(work)
        )

    def _merge(self, known: _Known, reading: TelemetryReading) -> bool:
        """Fold ``reading`` into ``known``; True when it must be stored as a sample."""
        ts = reading.recorded_at.timestamp()
        values, times = known.values, known.times
        changed = False
        carried = False
        for column, value in zip(STATE_COLUMNS, _field_values(reading), strict=True):
            if value is None:
                continue
            carried = True
            if values.get(column) != value:
                changed = True
            if ts >= times.get(column, _NEVER):
                values[column] = value
                times[column] = ts
        if known.recorded_at is None or reading.recorded_at > known.recorded_at:
            known.recorded_at = reading.recorded_at
        if known.last_heard_at is None or reading.received_at > known.last_heard_at:
            known.last_heard_at = reading.received_at
        keep = carried and (changed or ts - known.last_sample_ts >= self._heartbeat_s)
        if keep:
            known.last_sample_ts = max(known.last_sample_ts, ts)
        return keep

    def _load_known(self, connection: Connection, vehicle_ids: set[int]) -> None:
        missing = [v for v in vehicle_ids if v not in self._known]
        if not missing:
            return
        state = VehicleState.__table__
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            existing = connection.execute(select(Vehicle.id).where(Vehicle.id.in_(chunk)))
            for (vid,) in existing:
                self._known[vid] = _Known(exists=False)
            rows = connection.execute(select(state).where(state.c.vehicle_id.in_(chunk)))
            for row in rows:
                m = row._mapping
                times = m["field_times"] or {}
                self._known[m["vehicle_id"]] = _Known(
                    exists=True,
                    values={c: m[c] for c in STATE_COLUMNS if m[c] is not None},
                    times={c: float(t) for c, t in times.items()},
                    recorded_at=m["recorded_at"],
                    last_heard_at=m["last_heard_at"],
                    last_sample_ts=max(times.values(), default=-math.inf),
                )

    def _insert_samples(self, connection: Connection, samples: list[TelemetryReading]) -> None:
        if not samples:
            return
        if connection.dialect.name == "sqlite":
            # Hot path: plain tuples through the driver, times pre-formatted exactly as the
            # ORM type stores them (several times faster than per-value type processing).
            self._sqlite_insert.write(connection, [_sqlite_row(r) for r in samples])
            return
        if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
            _copy_samples(connection, samples)
            return
        rows = [
            dict(zip(_SAMPLE_COLUMNS, _row(r, lambda t: t, lambda d: d), strict=True))
            for r in samples
        ]
        connection.execute(insert(TelemetrySample.__table__), rows)

    def _write_states(self, connection: Connection, work: dict[int, _Known]) -> None:
        if connection.dialect.name == "sqlite" and work:
            self._sqlite_upsert.write(connection, [_state_row(v, k) for v, k in work.items()])
            return
        table = VehicleState.__table__
        new, old = [], []
        for vid, known in work.items():
            row = {c: known.values.get(c) for c in STATE_COLUMNS}
            row.update(
                field_times=dict(known.times),
                recorded_at=known.recorded_at,
                last_heard_at=known.last_heard_at,
            )
            if known.exists:
                row["p_vehicle"] = vid
                old.append(row)
            else:
                row["vehicle_id"] = vid
                new.append(row)
        if new:
            connection.execute(insert(table), new)
        if old:
            statement = update(table).where(table.c.vehicle_id == bindparam("p_vehicle"))
            connection.execute(statement, old)


class _SqliteRows:
    """Rows into one SQLite table as multi-row ``INSERT … VALUES (…), (…), …`` statements.

    Not executemany: the sqlite3 module lets go of the GIL around every statement step,
    so executemany gives the GIL up and must win it back once per row, and with the
    gateway's event loop busy on the other thread every one of those hand-overs waits
    (rows cost ten times what they cost alone). One statement per ``ROWS_PER_STATEMENT``
    rows is one hand-over per few hundred rows. Rows, order and transaction are the
    same; a constraint violation still fails the statement, hence the batch.
    """

    ROWS_PER_STATEMENT = 500

    def __init__(self, table: str, columns: Sequence[str], tail: str = "") -> None:
        self._head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        self._marks = f"({', '.join('?' * len(columns))})"
        self._width = len(columns)
        self._tail = tail
        self._statements: dict[int, str] = {}  # by row count: full chunks, the odd last

    def write(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        # Builds of SQLite before 3.32 allow 999 parameters per statement, newer 32,766.
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)  # the sqlite dialect's hot path only
        limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        step = max(1, min(self.ROWS_PER_STATEMENT, limit // self._width))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            statement = self._statements.get(len(chunk))
            if statement is None:
                statement = self._head + ", ".join([self._marks] * len(chunk)) + self._tail
                self._statements[len(chunk)] = statement
            connection.exec_driver_sql(statement, tuple(itertools.chain.from_iterable(chunk)))


def _row(r: TelemetryReading, time: Any, as_json: Any) -> tuple[Any, ...]:
    return (
        r.vehicle_id,
        r.source,
        time(r.recorded_at),
        time(r.received_at),
        r.lat,
        r.lon,
        r.speed,
        r.course,
        r.fuel,
        r.battery,
        r.range,
        r.odometer,
        r.locked,
        None if r.doors is None else as_json(r.doors),
        None if r.tires_kpa is None else as_json(r.tires_kpa),
        r.oil_life,
        r.charging,
        r.raw,
    )


def _naive_utc(value: datetime) -> datetime:
    """How orm.UtcDateTime stores times (``timestamp without time zone``, in UTC)."""
    if value.tzinfo is not UTC:  # the common case skips the conversion (hot path)
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def _copy_samples(connection: Connection, samples: list[TelemetryReading]) -> None:
    """PostgreSQL hot path: one COPY on the raw psycopg connection of this transaction.

    COPY skips per-row statement handling entirely (several times the rows per second of
    executemany). psycopg's errors are wrapped as SQLAlchemy's, as the ORM path would, so
    ``write_batch`` still sees an IntegrityError for a vehicle deleted meanwhile.
    """
    raw = connection.connection.driver_connection
    assert raw is not None  # a live transaction's connection
    driver_error = connection.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
            for r in samples:
                copy.write_row(_row(r, _naive_utc, json.dumps))
    except driver_error as exc:
        raise DBAPIError.instance(_PG_COPY, None, exc, driver_error) from exc


def _sqlite_row(r: TelemetryReading) -> tuple[Any, ...]:
    return _row(r, _sqlite_time, json.dumps)


def _state_row(vehicle_id: int, known: _Known) -> tuple[Any, ...]:
    """One vehicle_state row for the SQLite upsert, in ``_STATE_TAIL`` order."""
    cells: list[Any] = [vehicle_id, *map(known.values.get, STATE_COLUMNS)]
    for index in _JSON_CELLS:
        if cells[index] is not None:
            cells[index] = json.dumps(cells[index])
    cells.append(json.dumps(known.times))
    cells.append(None if known.recorded_at is None else _sqlite_time(known.recorded_at))
    cells.append(None if known.last_heard_at is None else _sqlite_time(known.last_heard_at))
    return tuple(cells)
