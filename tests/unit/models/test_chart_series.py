"""Chart data: raw samples in one query for small ranges, a min/max overview for big ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.models.chart_series import load_chart
from app.models.database import Database, sqlite_url
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def stored(tmp_path):
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    vehicle = VehicleRepository(db).add(VehicleFields(name="A", fleet_number="A-1", kind="car"))
    readings = [
        TelemetryReading(
            vehicle, "iot", START + timedelta(minutes=i), START + timedelta(minutes=i),
            fuel=float(i % 50), odometer=1000.0 + i,
            tires_kpa={"frontLeft": 200.0 + i % 7} if i % 2 else None,
        )
        for i in range(600)
    ]  # fmt: skip
    TelemetryStore(db, heartbeat_s=None).write_batch(readings)
    yield db, vehicle
    db.close()


def test_small_ranges_come_raw_and_skip_fields_never_reported(stored):
    db, vehicle = stored
    data = load_chart(db, vehicle, None, START + timedelta(days=1))
    assert data.detailed and data.samples == 600
    assert set(data.series) == {"fuel", "odometer", "tire:frontLeft"}  # no battery, oil
    t, v = data.series["odometer"]
    assert t[0] == START.timestamp() and v[-1] == 1599.0
    assert data.series["tire:frontLeft"][0].size == 300


def test_big_ranges_come_as_a_min_max_overview_with_the_true_extremes(stored):
    db, vehicle = stored
    data = load_chart(db, vehicle, None, START + timedelta(days=1), raw_limit=100, buckets=20)
    assert not data.detailed and data.samples == 600
    t, v = data.series["fuel"]
    assert t.size == 40 and np.all(np.diff(t) >= 0)
    assert np.nanmin(v) == 0.0 and np.nanmax(v) == 49.0
    lo, hi = data.series["odometer"][1][[0, -1]]
    assert (lo, hi) == (1000.0, 1599.0)
    # A narrower range (a zoom) is small enough to come raw again.
    zoom = load_chart(db, vehicle, START, START + timedelta(minutes=50), raw_limit=100, buckets=20)
    assert zoom.detailed and zoom.samples == 51


def test_naive_times_are_refused(stored):
    db, vehicle = stored
    with pytest.raises(ValueError, match="naive"):
        load_chart(db, vehicle, None, datetime(2026, 1, 2))
