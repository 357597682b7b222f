"""The charging flag through the real store: sample, latest state, dedupe and the CSV export."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models.orm import TelemetrySample, VehicleState
from app.models.telemetry_queries import TelemetryQueries
from app.models.telemetry_store import TelemetryStore
from app.services.telemetry.exports import export_telemetry
from tests.unit.services.telemetry.conftest import T0, reading


def test_charging_is_stored_kept_as_latest_and_exported(db, vehicle_ids, tmp_path):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    store.write_batch([reading(vid, battery=40.0, charging=True)])
    # Only the flag changes: still a new sample (the dedupe compares it like any value).
    later = reading(vid, 60.0, battery=40.0, charging=False)
    outcome = store.write_batch([later])
    assert (outcome.stored, outcome.duplicates) == (1, 0)
    # A reading without the flag leaves the known state alone.
    store.write_batch([reading(vid, 120.0, battery=41.0)])
    with db.session() as session:
        flags = session.scalars(select(TelemetrySample.charging).order_by(TelemetrySample.id))
        assert list(flags) == [True, False, None]
        assert session.get_one(VehicleState, vid).charging is False
    latest = TelemetryQueries(db).latest(vid)
    assert latest is not None and latest.values["charging"].value is False
    assert latest.values["charging"].recorded_at == T0 + timedelta(minutes=1)

    path = tmp_path / "samples.csv"
    export_telemetry(db, path, vid, T0, T0 + timedelta(hours=1))
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["charging"] for r in rows] == ["True", "False", ""]


def test_repeated_charging_reading_is_a_duplicate(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    store.write_batch([reading(vid, battery=40.0, charging=True)])
    again = reading(vid, 60.0, battery=40.0, charging=True)
    assert store.write_batch([again]).duplicates == 1


@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
def test_a_charging_value_that_is_not_a_bool_is_dropped_alone(db, vehicle_ids):
    vid = vehicle_ids[0]
    outcome = TelemetryStore(db).write_batch([reading(vid, battery=55.0, charging="yes")])
    assert (outcome.stored, outcome.dropped_fields) == (1, 1)
    with db.session() as session:
        state = session.get_one(VehicleState, vid)
    assert (state.battery_pct, state.charging) == (55.0, None)
