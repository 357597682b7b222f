"""The one input shape of the telemetry store, and the per-field checks applied to it.

Smartcar polls and IoT frames both become :class:`TelemetryReading` objects, so the store,
the charts and the reports treat a car and a scooter alike. Units are metric and
percentages are 0-100. Every optional field may be None ("not in this reading"), which is
different from "unchanged": the store keeps the latest known value of each field.

Bad values never reject a whole reading: :func:`sanitize` drops just the offending field
(with a log line naming vehicle, field and value) so one broken sensor cannot erase the
position that came with it. Only a reading that cannot be placed (no usable time, no
vehicle, unknown source) is dropped whole.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from app.models.orm import escape_nul

logger = logging.getLogger(__name__)

Source = Literal["smartcar", "iot"]
SOURCES = ("smartcar", "iot")

#: Plausible ranges per numeric field (inclusive); outside them the field is dropped.
RANGES: dict[str, tuple[float, float]] = {
    "speed": (0.0, 500.0),
    "course": (0.0, 360.0),
    "fuel": (0.0, 100.0),
    "battery": (0.0, 100.0),
    "range": (0.0, 10_000.0),
    "odometer": (0.0, 10_000_000.0),
    "oil_life": (0.0, 100.0),
}
#: A device clock may run a little ahead; further ahead than this it is clamped.
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_RAW_CHARS = 8192
_NUMBERS = (float, int)
MAX_DICT_ITEMS = 16
_RANGE_LIMITS = tuple(RANGES.items())
_range_values = operator.attrgetter(*RANGES)


@dataclass(frozen=True, slots=True)
class TelemetryReading:
    """One reading of one vehicle, as any source delivers it.

    ``recorded_at`` is when the vehicle measured the data (Smartcar: ``SC-Data-Age``;
    IoT: the fix time), ``received_at`` when we got it; both UTC-aware. ``doors`` maps a
    door/lid name to ``OPEN``/``CLOSED``/``UNKNOWN``; ``tires_kpa`` a wheel name
    (``frontLeft`` ...) to kPa. ``raw`` is kept verbatim for troubleshooting, except that
    a NUL is stored as ``\\x00`` (:func:`app.models.orm.escape_nul`). ``charging`` is True
    only when the source says energy is flowing in; a plug or external power alone is not
    charging (a full car on its cable, a tracker wired to the car's battery).
    """

    vehicle_id: int
    source: Source
    recorded_at: datetime
    received_at: datetime
    lat: float | None = None
    lon: float | None = None
    speed: float | None = None  # km/h
    course: float | None = None  # degrees, 0 = north
    fuel: float | None = None  # %
    battery: float | None = None  # %
    range: float | None = None  # km
    odometer: float | None = None  # km
    locked: bool | None = None
    doors: Mapping[str, str] | None = None
    tires_kpa: Mapping[str, float] | None = None
    oil_life: float | None = None  # %
    charging: bool | None = None  # energy flowing in now (not merely plugged in)
    raw: str | None = None


class DroppedReading(ValueError):
    """The whole reading is unusable; the message says why (for the log)."""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _drop(reading: TelemetryReading, name: str, value: Any, why: str) -> None:
    logger.warning(
        "telemetry: vehicle %s (%s): dropped %s=%r: %s",
        reading.vehicle_id,
        reading.source,
        name,
        value if not isinstance(value, str) else value[:40],
        why,
    )


def _clean_dict(reading: TelemetryReading, name: str, value: Any, numeric: bool) -> Any:
    if value is None:
        return None
    ok = isinstance(value, Mapping) and 0 < len(value) <= MAX_DICT_ITEMS
    if ok:
        for key, item in value.items():
            good_item = _finite(item) and 0 <= item <= 1000 if numeric else isinstance(item, str)
            if not isinstance(key, str) or len(key) > 32 or not good_item:
                ok = False
                break
    if not ok:
        _drop(reading, name, value, "expected a small mapping of names to values")
        return None
    return {k: float(v) for k, v in value.items()} if numeric else dict(value)


def sanitize(reading: Any) -> tuple[TelemetryReading, int]:
    """The reading with every implausible field set to None, and how many were dropped.

    Raises DroppedReading when the reading as a whole cannot be stored.
    """
    if not isinstance(reading, TelemetryReading):
        raise DroppedReading(f"not a TelemetryReading: {type(reading).__name__}")
    vehicle_id = reading.vehicle_id
    if not isinstance(vehicle_id, int) or isinstance(vehicle_id, bool) or vehicle_id <= 0:
        raise DroppedReading(f"invalid vehicle id {vehicle_id!r}")
    if reading.source not in SOURCES:
        raise DroppedReading(f"vehicle {vehicle_id}: unknown source {reading.source!r}")
    if not _aware(reading.received_at):
        raise DroppedReading(f"vehicle {vehicle_id}: received_at must be a UTC-aware datetime")
    changes: dict[str, Any] = {}
    dropped = 0
    recorded = reading.recorded_at
    if not _aware(recorded):
        _drop(reading, "recorded_at", recorded, "not an aware datetime; using received_at")
        changes["recorded_at"] = reading.received_at
        dropped += 1
    elif recorded > reading.received_at + MAX_FUTURE_SKEW:
        _drop(reading, "recorded_at", recorded, "in the future; using received_at")
        changes["recorded_at"] = reading.received_at
        dropped += 1
    lat, lon = reading.lat, reading.lon
    if lat is not None or lon is not None:
        # Plain floats need no type test: NaN fails every comparison, infinities the range.
        good = (lat.__class__ is float or _finite(lat)) and (lon.__class__ is float or _finite(lon))
        if lat is None or lon is None or not (good and -90 <= lat <= 90 and -180 <= lon <= 180):
            _drop(reading, "lat/lon", (lat, lon), "coordinates missing or out of range")
            changes["lat"] = changes["lon"] = None
            dropped += 1
    for (name, (low, high)), value in zip(_RANGE_LIMITS, _range_values(reading), strict=True):
        # NaN fails every comparison and infinities fail the range, so one test covers all.
        if value is None or (value.__class__ in _NUMBERS and low <= value <= high):
            continue
        if not (_finite(value) and low <= value <= high):
            _drop(reading, name, value, f"not a number in {low:g}..{high:g}")
            changes[name] = None
            dropped += 1
    for name, flag in (("locked", reading.locked), ("charging", reading.charging)):
        if flag is not None and flag.__class__ is not bool:
            _drop(reading, name, flag, "not true/false")
            changes[name] = None
            dropped += 1
    for name, numeric, value in (
        ("doors", False, reading.doors),
        ("tires_kpa", True, reading.tires_kpa),
    ):
        if value is not None:
            clean = _clean_dict(reading, name, value, numeric)
            if clean is None:
                dropped += 1
            changes[name] = clean
    raw = reading.raw
    if raw is not None and not isinstance(raw, str):
        _drop(reading, "raw", raw, "not text")
        changes["raw"] = None
        dropped += 1
    elif raw is not None:
        # Every write path (COPY, SQLite driver insert, Core insert) stores what this
        # returns, so the NUL rule for PostgreSQL is applied here once for all of them.
        clean_raw = escape_nul(raw[:MAX_RAW_CHARS])
        if clean_raw != raw:
            changes["raw"] = clean_raw
    return (replace(reading, **changes) if changes else reading), dropped
