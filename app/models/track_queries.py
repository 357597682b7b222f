"""A vehicle's track over a time range, for the route replay: fixes, readings, gaps.

Blocking; run it through the database thread::

    track = await context.database.run(TrackQueries(context.database).track,
                                       vehicle_id, since, until)

The store keeps only changed readings (see :mod:`app.models.telemetry_store`), so one
sample row rarely carries every value. The replay wants "what did the car report as of
this moment", so readings are carried forward: each row's readings are the newest
non-null value of every field at or before it, seeded with the last value stored before
``since`` (a car parked all day still shows its fuel level at 08:00).

Gaps: fixes normally arrive at a steady rate (a poll interval, an IoT report period).
Where the time between two fixes exceeds ``GAP_FACTOR`` times the median interval the
track is split there: the map must not draw a straight line across an hour of silence as
if the car drove it.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from app.models.database import Database
from app.models.orm import TelemetrySample

logger = logging.getLogger(__name__)

GAP_FACTOR = 3.0
#: Readings the replay shows beside the map (telemetry_sample column names).
READING_FIELDS = ("speed_kmh", "fuel_pct", "battery_pct", "odometer_km", "locked")


@dataclass(frozen=True, slots=True)
class Reading:
    """The values known at ``at`` (carried forward; None where never reported)."""

    at: datetime
    speed_kmh: float | None = None
    fuel_pct: float | None = None
    battery_pct: float | None = None
    odometer_km: float | None = None
    locked: bool | None = None


@dataclass(frozen=True, slots=True)
class Fix:
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Gap:
    """No fix between ``start`` and ``end`` (the last fix before, the first after)."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Track:
    """Fixes in time order, split into segments (lists of fix indexes, start/stop)."""

    vehicle_id: int
    since: datetime
    until: datetime
    fixes: tuple[Fix, ...]
    segments: tuple[tuple[int, int], ...]  # [start, stop) into fixes
    gaps: tuple[Gap, ...]
    readings: tuple[Reading, ...]

    def reading_at(self, at: datetime) -> Reading | None:
        """The newest reading at or before ``at``; None before the first."""
        index = bisect.bisect_right([r.at for r in self.readings], at) - 1
        return self.readings[index] if index >= 0 else None

    def position_at(self, at: datetime) -> tuple[float, float] | None:
        """Where the vehicle was at ``at``: interpolated between two fixes of a segment,
        held at the last fix across a gap (we do not know where it went)."""
        if not self.fixes:
            return None
        times = [f.at for f in self.fixes]
        index = bisect.bisect_right(times, at) - 1
        if index < 0:
            return self.fixes[0].lat, self.fixes[0].lon
        here = self.fixes[index]
        nxt = index + 1
        if nxt >= len(self.fixes) or any(stop == nxt for _start, stop in self.segments):
            return here.lat, here.lon
        there = self.fixes[nxt]
        span = (there.at - here.at).total_seconds()
        share = (at - here.at).total_seconds() / span if span > 0 else 0.0
        return (
            here.lat + (there.lat - here.lat) * share,
            here.lon + (there.lon - here.lon) * share,
        )


def split_at_gaps(times: list[float], factor: float = GAP_FACTOR) -> list[tuple[int, int]]:
    """Segments ``[start, stop)`` of ``times`` (epoch seconds, sorted), split wherever an
    interval exceeds ``factor`` times the median interval."""
    if not times:
        return []
    intervals = [b - a for a, b in itertools.pairwise(times)]
    if len(intervals) < 2:  # one interval has no "usual" rate to compare against
        return [(0, len(times))]
    limit = factor * statistics.median(intervals)
    segments, start = [], 0
    for i, interval in enumerate(intervals):
        if interval > limit:
            segments.append((start, i + 1))
            start = i + 1
    segments.append((start, len(times)))
    return segments


class TrackQueries:
    """Blocking reads; run them via ``Database.run``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def track(self, vehicle_id: int, since: datetime, until: datetime) -> Track:
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware values")
        if until <= since:
            raise ValueError("the range ends before it starts")
        t = TelemetrySample.__table__.c
        columns = [t.recorded_at, t.latitude, t.longitude, *(t[f] for f in READING_FIELDS)]
        with self._db.engine.connect() as connection:
            carried = {
                field: connection.execute(
                    select(t[field])
                    .where(t.vehicle_id == vehicle_id, t.recorded_at < since, t[field].is_not(None))
                    .order_by(t.recorded_at.desc())
                    .limit(1)
                ).scalar()
                for field in READING_FIELDS
            }
            rows = connection.execute(
                select(*columns)
                .where(t.vehicle_id == vehicle_id, t.recorded_at >= since, t.recorded_at <= until)
                .order_by(t.recorded_at, t.id)
            ).all()
        fixes: list[Fix] = []
        readings: list[Reading] = []
        for row in rows:
            at = _aware(row.recorded_at)
            for field in READING_FIELDS:
                value = getattr(row, field)
                if value is not None:
                    carried[field] = value
            readings.append(Reading(at, **carried))
            if row.latitude is not None and row.longitude is not None:
                fixes.append(Fix(at, row.latitude, row.longitude))
        segments = split_at_gaps([f.at.timestamp() for f in fixes])
        gaps = tuple(Gap(fixes[stop - 1].at, fixes[stop].at) for _start, stop in segments[:-1])
        logger.debug("track of vehicle %d: %d fixes, %d gaps", vehicle_id, len(fixes), len(gaps))
        return Track(vehicle_id, since, until, tuple(fixes), tuple(segments), gaps, tuple(readings))

    def recent_fixes(self, vehicle_id: int, since: datetime, limit: int) -> list[Fix]:
        """The newest ``limit`` stored fixes at or after ``since``, newest first (the
        rental gate judges motion from them, :mod:`app.services.rentals.motion`)."""
        if since.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware values")
        t = TelemetrySample.__table__.c
        with self._db.engine.connect() as connection:
            rows = connection.execute(
                select(t.recorded_at, t.latitude, t.longitude)
                .where(
                    t.vehicle_id == vehicle_id,
                    t.recorded_at >= since,
                    t.latitude.is_not(None),
                    t.longitude.is_not(None),
                )
                .order_by(t.recorded_at.desc(), t.id.desc())
                .limit(limit)
            ).all()
        return [Fix(_aware(r.recorded_at), r.latitude, r.longitude) for r in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
