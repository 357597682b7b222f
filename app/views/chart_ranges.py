"""Axis ranges and gaps for the telemetry charts: plain numpy, so they are easy to test.

pyqtgraph's auto-range suits a series with spread; it misleads for a single value (a
unit-wide range) and keeps the previous vehicle's range when there is nothing to fit.
These functions say when to fix a range instead, and where to break a curve.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from app.models.chart_series import ChartData

GAP_FACTOR = 3.0
FLAT_PAD = 0.02  # a flat series is shown +-2 % of its value (at least +-1 unit)
LONE_X_PAD = 3600.0  # "All" with one instant of data: an hour either side of it

Series = tuple[np.ndarray, np.ndarray]  # epoch seconds (float64), values


def with_gaps(t: np.ndarray, v: np.ndarray, factor: float = GAP_FACTOR) -> Series:
    """Insert a NaN value inside every interval longer than ``factor`` x the median one.

    With ``connect="finite"`` the curve then breaks there. The NaN point sits in the
    middle of the gap so x stays sorted (clip-to-view needs that).
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if t.size < 3:
        return t, v
    dt = np.diff(t)
    median = float(np.median(dt))
    if median <= 0:
        return t, v
    cut = np.flatnonzero(dt > factor * median) + 1
    if cut.size == 0:
        return t, v
    middle = (t[cut - 1] + t[cut]) / 2.0
    return np.insert(t, cut, middle), np.insert(v, cut, np.nan)


def y_range(values: list[np.ndarray], empty: tuple[float, float]) -> tuple[float, float] | None:
    """A fixed y range where auto-range would mislead (no data: ``empty``; one value:
    padded around it), or None to let pyqtgraph fit the data."""
    finite = [v[np.isfinite(v)] for v in values if len(v)]
    finite = [v for v in finite if v.size]
    if not finite:
        return empty
    lo = min(float(v.min()) for v in finite)
    hi = max(float(v.max()) for v in finite)
    if hi > lo:
        return None
    pad = max(1.0, abs(lo) * FLAT_PAD)
    return lo - pad, hi + pad


def x_range(data: ChartData, since: datetime | None, until: datetime) -> tuple[float, float] | None:
    """The time axis: the chosen range; for "All" the data's own span (None: auto-range),
    or an hour either side of a single instant, or the last hour with no data at all."""
    if since is not None:
        return since.timestamp(), until.timestamp()
    times = [t[np.isfinite(t)] for t, _v in data.series.values() if len(t)]
    times = [t for t in times if t.size]
    if not times:
        return until.timestamp() - LONE_X_PAD, until.timestamp()
    lo = min(float(t.min()) for t in times)
    hi = max(float(t.max()) for t in times)
    if hi > lo:
        return None
    return lo - LONE_X_PAD, hi + LONE_X_PAD
