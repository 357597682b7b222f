"""Read side of the telemetry store, for charts, the map and the detail readouts.

Both methods block; call them through the database thread::

    queries = TelemetryQueries(context.database)
    times, values = await context.database.run(queries.series, vehicle_id, "fuel_pct",
                                               since, until)
    latest = await context.database.run(queries.latest, vehicle_id)

``series`` returns two float64 numpy arrays (epoch seconds, values) in time order. Rows
where the field is NULL are left out and nothing is interpolated: a gap in time is a
real gap for the chart to detect. Because unchanged readings are not stored, a flat
stretch shows as widely spaced points; the store writes a heartbeat sample at least every
hour (``telemetry_store.DEFAULT_HEARTBEAT_S``) while readings keep arriving, so a gap much
longer than that means "no data". ``locked`` comes back as 1.0/0.0.

The time conversion happens in SQL (``strftime`` on SQLite, ``EXTRACT(EPOCH ...)`` on
PostgreSQL) and the rows go straight from the driver cursor into numpy, which is what
keeps a million samples well under a second.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from app.models.database import Database
from app.models.orm import VehicleState
from app.models.telemetry_store import STATE_COLUMNS

logger = logging.getLogger(__name__)

#: Columns ``series`` accepts (the numeric telemetry_sample columns).
SERIES_FIELDS = (
    "latitude",
    "longitude",
    "speed_kmh",
    "course_deg",
    "fuel_pct",
    "battery_pct",
    "range_km",
    "odometer_km",
    "oil_life_pct",
    "locked",
    "charging",
)

FloatArray = npt.NDArray[np.float64]


class UnknownFieldError(ValueError):
    """``series`` was asked for a column that is not a numeric telemetry field."""


@dataclass(frozen=True, slots=True)
class LatestValue:
    """One value of the latest state and when the vehicle recorded it."""

    value: Any
    recorded_at: datetime | None

    def age_s(self, now: datetime | None = None) -> float | None:
        if self.recorded_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.recorded_at).total_seconds()


@dataclass(frozen=True, slots=True)
class LatestState:
    """The latest known state of one vehicle; ``values`` is keyed by column name
    (``latitude``, ``fuel_pct``, ``doors`` (dict), ``tires_kpa`` (dict), ``oil_life_pct``,
    ``range_km`` ...) and holds only the values ever reported."""

    vehicle_id: int
    values: dict[str, LatestValue]
    recorded_at: datetime | None
    last_heard_at: datetime | None

    def get(self, column: str) -> Any:
        item = self.values.get(column)
        return None if item is None else item.value


class TelemetryQueries:
    """Blocking reads; run them via ``Database.run``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def series(
        self, vehicle_id: int, field: str, since: datetime, until: datetime
    ) -> tuple[FloatArray, FloatArray]:
        """``(epoch_seconds, values)`` of ``field`` for ``since <= recorded_at <= until``."""
        if field not in SERIES_FIELDS:
            raise UnknownFieldError(f"no telemetry series {field!r}; one of {SERIES_FIELDS}")
        sqlite = self._db.is_sqlite
        if sqlite:
            sql = (
                # Whole seconds from strftime plus the stored '.ffffff' tail: exact to the
                # microsecond (julianday arithmetic loses ~10 us at today's epoch values).
                "SELECT CAST(strftime('%s', recorded_at) AS REAL) "
                "+ CAST(substr(recorded_at, 20) AS REAL), "
                f"CAST({field} AS REAL) FROM telemetry_sample "
                f"WHERE vehicle_id = ? AND recorded_at >= ? AND recorded_at <= ? "
                f"AND {field} IS NOT NULL ORDER BY recorded_at"
            )
            params: tuple[Any, ...] = (
                vehicle_id,
                _bound(since).isoformat(" ", "microseconds"),
                _bound(until).isoformat(" ", "microseconds"),
            )
        else:
            sql = (
                f"SELECT EXTRACT(EPOCH FROM recorded_at)::float8, {field}::float8 "
                "FROM telemetry_sample WHERE vehicle_id = %s AND recorded_at >= %s "
                f"AND recorded_at <= %s AND {field} IS NOT NULL ORDER BY recorded_at"
            )
            params = (vehicle_id, _bound(since), _bound(until))
        with self._db.engine.connect() as connection:
            cursor = connection.exec_driver_sql(sql, params)
            flat = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.float64)
        pairs = flat.reshape(-1, 2)
        return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])

    def latest(self, vehicle_id: int) -> LatestState | None:
        """The vehicle's latest state with each value's recording time; None if never heard."""
        table = VehicleState.__table__
        with self._db.engine.connect() as connection:
            row = connection.execute(table.select().where(table.c.vehicle_id == vehicle_id)).first()
        if row is None:
            return None
        m = row._mapping
        times = m["field_times"] or {}
        values = {}
        for column in STATE_COLUMNS:
            if m[column] is None:
                continue
            stamp = times.get(column)
            when = datetime.fromtimestamp(stamp, UTC) if stamp is not None else m["recorded_at"]
            values[column] = LatestValue(m[column], when)
        return LatestState(vehicle_id, values, m["recorded_at"], m["last_heard_at"])


def _bound(value: datetime) -> datetime:
    """Naive UTC, the way timestamps are stored (see orm.UtcDateTime)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use UTC-aware values")
    return value.astimezone(UTC).replace(tzinfo=None)
