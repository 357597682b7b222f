"""The hot-path shortcuts of the store and sanitize give exactly what the plain code gives."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.telemetry_reading import TelemetryReading, sanitize
from app.models.telemetry_store import _sqlite_time

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@given(st.datetimes(timezones=st.sampled_from([UTC, datetime.now().astimezone().tzinfo])))
def test_cached_sqlite_time_is_the_uncached_text(value: datetime) -> None:
    assert _sqlite_time(value) == _sqlite_time.__wrapped__(value)


COORD = st.one_of(st.none(), ANY_FLOAT, st.integers(-200, 200), st.booleans(), st.just("1"))


@given(COORD, COORD)
@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
def test_position_is_kept_exactly_when_both_are_finite_numbers_in_range(lat, lon) -> None:
    reading = TelemetryReading(1, "iot", T0, T0 + timedelta(seconds=1), lat=lat, lon=lon)
    clean, dropped = sanitize(reading)

    def number(value: object, limit: float) -> bool:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric and math.isfinite(value) and -limit <= value <= limit

    keep = (lat is None and lon is None) or (number(lat, 90) and number(lon, 180))
    assert (clean.lat, clean.lon) == ((lat, lon) if keep else (None, None))
    assert clean is reading if keep else dropped == 1


@given(st.lists(st.one_of(st.none(), ANY_FLOAT, st.integers(-10, 20_000_000)), min_size=7))
@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
def test_range_fields_are_kept_exactly_when_finite_and_in_range(values) -> None:
    names = ("speed", "course", "fuel", "battery", "range", "odometer", "oil_life")
    limits = (500, 360, 100, 100, 10_000, 10_000_000, 100)
    fields = dict(zip(names, values, strict=False))
    clean, dropped = sanitize(TelemetryReading(1, "iot", T0, T0, **fields))
    expected = {
        n: v if v is None or (math.isfinite(v) and 0 <= v <= top) else None
        for (n, v), top in zip(fields.items(), limits, strict=True)
    }
    assert {n: getattr(clean, n) for n in names} == expected
    assert dropped == sum(fields[n] is not None and expected[n] is None for n in names)
