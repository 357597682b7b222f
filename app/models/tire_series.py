"""Tire-pressure history per wheel, for the charts.

Tire pressures are stored as one JSON object per sample (``{"frontLeft": 240.0, ...}``),
so they are not a plain column for ``TelemetryQueries.series``. The database pulls each
wheel out of the JSON (SQLite ``json_extract``, PostgreSQL ``->>``) so no sample is
decoded in Python, and rows go from the cursor straight into numpy.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from app.models.database import Database

WHEELS = ("frontLeft", "frontRight", "backLeft", "backRight")

FloatArray = npt.NDArray[np.float64]


def tire_series(
    database: Database, vehicle_id: int, since: datetime, until: datetime
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """``{wheel: (epoch_seconds, kPa)}`` for every wheel that reported in the range.

    Blocking; run it via ``Database.run``.
    """
    lo, hi = (_naive_utc(since), _naive_utc(until))
    if database.is_sqlite:
        wheels = ", ".join(f"CAST(json_extract(tires_kpa, '$.{w}') AS REAL)" for w in WHEELS)
        sql = (
            "SELECT CAST(strftime('%s', recorded_at) AS REAL) "
            f"+ CAST(substr(recorded_at, 20) AS REAL), {wheels} FROM telemetry_sample "
            "WHERE vehicle_id = ? AND recorded_at >= ? AND recorded_at <= ? "
            "AND tires_kpa IS NOT NULL ORDER BY recorded_at"
        )
        params: tuple[object, ...] = (
            vehicle_id,
            lo.isoformat(" ", "microseconds"),
            hi.isoformat(" ", "microseconds"),
        )
    else:
        wheels = ", ".join(f"(tires_kpa->>'{w}')::float8" for w in WHEELS)
        sql = (
            f"SELECT EXTRACT(EPOCH FROM recorded_at)::float8, {wheels} FROM telemetry_sample "
            "WHERE vehicle_id = %s AND recorded_at >= %s AND recorded_at <= %s "
            "AND tires_kpa IS NOT NULL ORDER BY recorded_at"
        )
        params = (vehicle_id, lo, hi)
    with database.engine.connect() as connection:
        cursor = connection.exec_driver_sql(sql, params)
        flat = np.fromiter(
            (np.nan if v is None else v for v in itertools.chain.from_iterable(cursor)),
            dtype=np.float64,
        )
    table = flat.reshape(-1, 1 + len(WHEELS))
    out = {}
    for column, wheel in enumerate(WHEELS, start=1):
        present = np.isfinite(table[:, column])
        if present.any():
            out[wheel] = (table[present, 0].copy(), table[present, column].copy())
    return out


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use UTC-aware values")
    return value.astimezone(UTC).replace(tzinfo=None)
