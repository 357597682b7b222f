"""Chart data of one vehicle, sized to what a chart can show: raw samples or a min/max overview.

Why not simply fetch every sample: on this class of machine the Python database driver
alone needs ~0.5 s to hand over a million rows (tuple building per row), before any
drawing, whereas a chart 1,000-2,000 pixels wide can only show a min and a max per
pixel column. So:

* a range with at most ``RAW_LIMIT`` samples is fetched as raw samples, in ONE query for
  all chart columns (time converted to epoch seconds in SQL, rows straight from the
  DBAPI cursor into numpy);
* a bigger range is fetched as an overview: ``BUCKETS`` equal time buckets, each one
  aggregate query (count, min, max per column) that runs entirely inside the database,
  drawn as a min/max pair per bucket (what pyqtgraph's peak downsampling would draw
  from the raw data). The chart asks again for the visible range when the user zooms in,
  which soon falls under ``RAW_LIMIT``.

Columns the vehicle never reported are skipped: ``vehicle_state`` keeps every value ever
reported (the store never writes None over a value), so its non-null columns are the
ones worth reading. Without a state row every chart column is read.

Blocking; run :func:`load_chart` through ``Database.run``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from app.models.database import Database

logger = logging.getLogger(__name__)

RAW_LIMIT = 50_000
BUCKETS = 1500
# Bucket queries run on this many connections at once: the driver lets go of the GIL
# while the database aggregates, so two cores halve the overview's time.
PARALLEL = max(1, min(4, os.cpu_count() or 1))
WHEELS = ("frontLeft", "frontRight", "backLeft", "backRight")
#: chart series key -> telemetry_sample column (tires are JSON, see TIRE_KEYS)
NUMERIC_COLUMNS = {
    "fuel": "fuel_pct",
    "battery": "battery_pct",
    "odometer": "odometer_km",
    "oil_life": "oil_life_pct",
}
TIRE_KEYS = {f"tire:{wheel}": wheel for wheel in WHEELS}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FloatArray = npt.NDArray[np.float64]
Series = tuple[FloatArray, FloatArray]


@dataclass(frozen=True)
class ChartData:
    """What to draw: ``series`` (key -> (epoch seconds, values)) over ``[since, until]``.

    ``detailed`` is False for an overview (min/max pairs per bucket, NaN where a bucket
    is empty), True for raw samples. ``samples`` counts the stored samples in the range.
    """

    series: dict[str, Series]
    samples: int
    detailed: bool
    since: datetime | None = None
    until: datetime | None = None
    columns: tuple[str, ...] = field(default=())


def load_chart(
    database: Database,
    vehicle_id: int,
    since: datetime | None,
    until: datetime,
    *,
    raw_limit: int = RAW_LIMIT,
    buckets: int = BUCKETS,
) -> ChartData:
    """The chart series of one vehicle for ``since <= recorded_at <= until``."""
    lo, hi = _naive_utc(since or EPOCH), _naive_utc(until)
    query = _Query(database, vehicle_id, lo, hi)
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            keys = query.reported_keys(cursor)
            if not keys:
                return ChartData({}, query.count(cursor, None), True, since, until)
            small = query.count(cursor, raw_limit + 1)
            if small <= raw_limit:
                series = query.raw_series(cursor, keys)
                return ChartData(series, small, True, since, until, keys)
            series, total = query.overview(cursor, keys, buckets)
            return ChartData(series, total, False, since, until, keys)
        finally:
            cursor.close()
    finally:
        raw.close()


class _Query:
    """The SQL of one load; the dialect decides placeholders, time and JSON functions."""

    def __init__(self, database: Database, vehicle_id: int, lo: datetime, hi: datetime) -> None:
        self.database = database
        self.sqlite = database.is_sqlite
        self.vehicle_id = vehicle_id
        self.lo, self.hi = lo, hi
        self.mark = "?" if self.sqlite else "%s"

    def _time(self, value: datetime) -> object:
        return value.isoformat(" ", "microseconds") if self.sqlite else value

    def _where(self, lo: datetime, hi: datetime, *, upper: str = "<=") -> tuple[str, tuple]:
        m = self.mark
        sql = f"vehicle_id = {m} AND recorded_at >= {m} AND recorded_at {upper} {m}"
        return sql, (self.vehicle_id, self._time(lo), self._time(hi))

    def _column(self, key: str, *, cast: bool = True) -> str:
        wheel = TIRE_KEYS.get(key)
        if wheel is None:
            column = NUMERIC_COLUMNS[key]
            return f"CAST({column} AS DOUBLE PRECISION)" if cast else column
        if self.sqlite:
            return f"CAST(json_extract(tires_kpa, '$.{wheel}') AS DOUBLE PRECISION)"
        return f"(tires_kpa->>'{wheel}')::float8"

    def reported_keys(self, cursor: Any) -> tuple[str, ...]:
        numeric = list(NUMERIC_COLUMNS.values())
        cursor.execute(
            f"SELECT {', '.join(numeric)}, tires_kpa FROM vehicle_state "
            f"WHERE vehicle_id = {self.mark}",
            (self.vehicle_id,),
        )
        row = cursor.fetchone()
        if row is None:  # no state kept (data written by other means): read everything
            return (*NUMERIC_COLUMNS, *TIRE_KEYS)
        keys = [key for key, value in zip(NUMERIC_COLUMNS, row, strict=False) if value is not None]
        if row[-1] is not None:
            keys.extend(TIRE_KEYS)
        return tuple(keys)

    def count(self, cursor: Any, limit: int | None) -> int:
        """Samples in the range; with ``limit`` counting stops there (cheap on big ranges)."""
        where, params = self._where(self.lo, self.hi)
        inner = f"SELECT 1 FROM telemetry_sample WHERE {where}"
        if limit is not None:
            inner += f" LIMIT {int(limit)}"
        cursor.execute(f"SELECT count(*) FROM ({inner}) AS limited", params)
        return int(cursor.fetchone()[0])

    def raw_series(self, cursor: Any, keys: tuple[str, ...]) -> dict[str, Series]:
        if self.sqlite:
            # Whole seconds from strftime plus the stored '.ffffff' tail: exact to the us.
            epoch = (
                "CAST(strftime('%s', recorded_at) AS REAL) + CAST(substr(recorded_at, 20) AS REAL)"
            )
        else:
            epoch = "EXTRACT(EPOCH FROM recorded_at)::float8"
        where, params = self._where(self.lo, self.hi)
        columns = ", ".join(self._column(key) for key in keys)
        cursor.execute(
            f"SELECT {epoch}, {columns} FROM telemetry_sample WHERE {where} ORDER BY recorded_at",
            params,
        )
        table = np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 1 + len(keys))
        out = {}
        for index, key in enumerate(keys, start=1):
            present = np.isfinite(table[:, index])
            if present.any():
                out[key] = (table[present, 0].copy(), table[present, index].copy())
        return out

    def overview(
        self, cursor: Any, keys: tuple[str, ...], buckets: int
    ) -> tuple[dict[str, Series], int]:
        """Per bucket of time: count, and min/max of each column; one query per bucket,
        each an index range scan aggregated inside the database (no row reaches Python).
        """
        where, params = self._where(self.lo, self.hi)
        ends = []
        for order in ("ASC", "DESC"):  # each a single index probe; min()+max() together scan
            cursor.execute(
                f"SELECT recorded_at FROM telemetry_sample WHERE {where} "
                f"ORDER BY recorded_at {order} LIMIT 1",
                params,
            )
            ends.append(_as_datetime(cursor.fetchone()[0]))
        first, last = ends
        step = (last - first) / buckets + timedelta(microseconds=1)
        # min/max of a plain REAL column need no cast (the cast per row is measurable);
        # min is NULL exactly when the bucket holds no value of that column.
        aggregates = ", ".join(
            f"min({c}), max({c})" for c in (self._column(k, cast=False) for k in keys)
        )
        bounds = [first + step * index for index in range(buckets + 1)]
        jobs = [self._where(lo, hi, upper="<")[1] for lo, hi in itertools.pairwise(bounds)]
        bucket_where = self._where(first, last, upper="<")[0]
        sql = f"SELECT count(*), {aggregates} FROM telemetry_sample WHERE {bucket_where}"
        rows = _in_parallel(self.database, sql, jobs)
        table = np.array(rows, dtype=np.float64)  # None (empty bucket) -> NaN
        start = (first.replace(tzinfo=UTC) - EPOCH).total_seconds()
        middle = start + step.total_seconds() * (np.arange(buckets) + 0.5)
        x = np.repeat(middle, 2)
        out = {}
        for index, key in enumerate(keys):
            low, high = table[:, 1 + 2 * index : 3 + 2 * index].T
            if np.isnan(low).all():
                continue
            # An empty bucket is NaN (from NULL) and so breaks the line.
            out[key] = (x.copy(), np.column_stack((low, high)).ravel())
        return out, int(np.nansum(table[:, 0]))


def _in_parallel(database: Database, sql: str, jobs: Sequence[tuple]) -> list[Any]:
    """``sql`` once per parameter tuple, in order, spread over ``PARALLEL`` connections."""
    size = -(-len(jobs) // PARALLEL)
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]

    def run(chunk: Sequence[tuple]) -> list[Any]:
        connection = database.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                out = []
                for params in chunk:
                    cursor.execute(sql, params)
                    out.append(cursor.fetchone())
                return out
            finally:
                cursor.close()
        finally:
            connection.close()

    # An in-memory SQLite database exists once per connection: stay on one there.
    if len(chunks) <= 1 or (database.is_sqlite and database.file is None):
        return run(jobs)
    with ThreadPoolExecutor(len(chunks), thread_name_prefix="chart-overview") as pool:
        return [row for part in pool.map(run, chunks) for row in part]


def _as_datetime(value: object) -> datetime:
    """SQLite hands timestamps back as text, PostgreSQL as naive datetimes."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.fromisoformat(str(value))


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use UTC-aware values")
    return value.astimezone(UTC).replace(tzinfo=None)
