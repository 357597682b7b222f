"""The telemetry store on a real SQLite file: samples, latest state, dedupe, bad input."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from app.models.orm import SmartcarConnection, TelemetrySample, VehicleState
from app.models.telemetry_connections import ConnectionPollUpdate
from app.models.telemetry_queries import TelemetryQueries, UnknownFieldError
from app.models.telemetry_store import TelemetryStore
from tests.unit.services.telemetry.conftest import T0, reading


def sample_count(db, vehicle_id=None) -> int:
    query = select(func.count(TelemetrySample.id))
    if vehicle_id is not None:
        query = query.where(TelemetrySample.vehicle_id == vehicle_id)
    with db.session() as session:
        return session.scalar(query) or 0


def test_a_reading_becomes_a_sample_and_the_latest_state(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    doors = {"frontLeft": "OPEN", "frontRight": "CLOSED"}
    tires = {"frontLeft": 230.5, "backRight": 229.0}
    outcome = store.write_batch(
        [
            reading(
                vid,
                lat=52.5,
                lon=13.4,
                fuel=41.0,
                range=300.0,
                odometer=1234.5,
                locked=False,
                doors=doors,
                tires_kpa=tires,
                oil_life=77.0,
                course=90.0,
                raw="req-1",
            )
        ]
    )
    assert (outcome.stored, outcome.duplicates, outcome.vehicles) == (1, 0, frozenset({vid}))
    with db.session() as session:
        sample = session.scalars(select(TelemetrySample)).one()
        state = session.get_one(VehicleState, vid)
    assert sample.recorded_at == T0 and sample.received_at == T0 + timedelta(seconds=1)
    assert (sample.latitude, sample.fuel_pct, sample.doors, sample.tires_kpa) == (
        52.5,
        41.0,
        doors,
        tires,
    )
    assert (state.latitude, state.range_km, state.locked, state.course_deg) == (
        52.5,
        300.0,
        False,
        90.0,
    )
    latest = TelemetryQueries(db).latest(vid)
    assert latest is not None
    assert latest.get("doors") == doors and latest.get("tires_kpa") == tires
    assert latest.values["oil_life_pct"].recorded_at == T0
    assert latest.last_heard_at == T0 + timedelta(seconds=1)
    assert latest.values["fuel_pct"].age_s(T0 + timedelta(seconds=60)) == 60


def test_unchanged_readings_only_move_last_heard(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    store.write_batch([reading(vid, 0, lat=1.0, lon=2.0, fuel=50.0)])
    outcome = store.write_batch([reading(vid, 300, lat=1.0, lon=2.0, fuel=50.0)])
    assert (outcome.stored, outcome.duplicates) == (0, 1)
    # A partial reading that agrees with what is known is no news either.
    assert store.write_batch([reading(vid, 600, fuel=50.0)]).duplicates == 1
    assert sample_count(db) == 1
    latest = TelemetryQueries(db).latest(vid)
    assert latest.last_heard_at == T0 + timedelta(seconds=601)
    assert store.write_batch([reading(vid, 900, lat=1.0, lon=2.0, fuel=49.0)]).stored == 1
    assert sample_count(db) == 2


def test_dedupe_survives_a_restart_of_the_store(db, vehicle_ids):
    vid = vehicle_ids[0]
    TelemetryStore(db).write_batch([reading(vid, 0, battery=80.0, doors={"frontLeft": "CLOSED"})])
    again = TelemetryStore(db).write_batch(
        [reading(vid, 60, battery=80.0, doors={"frontLeft": "CLOSED"})]
    )
    assert again.duplicates == 1 and sample_count(db) == 1


def test_a_heartbeat_sample_is_kept_after_a_long_unchanged_stretch(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db, heartbeat_s=3600)
    store.write_batch([reading(vid, 0, fuel=50.0)])
    assert store.write_batch([reading(vid, 3000, fuel=50.0)]).stored == 0
    assert store.write_batch([reading(vid, 3600, fuel=50.0)]).stored == 1


def test_an_older_value_never_replaces_a_newer_one_in_the_state(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    store.write_batch([reading(vid, 100, fuel=40.0)])
    store.write_batch([reading(vid, 50, fuel=45.0, odometer=10.0, source="iot")])
    latest = TelemetryQueries(db).latest(vid)
    assert latest.get("fuel_pct") == 40.0  # the newer value stays
    assert latest.get("odometer_km") == 10.0  # a new field is taken even from a late reading
    assert latest.values["odometer_km"].recorded_at == T0 + timedelta(seconds=50)
    assert sample_count(db) == 2  # history keeps the late reading


@pytest.mark.parametrize(
    ("bad", "column"),
    [
        ({"fuel": math.nan}, "fuel_pct"),
        ({"battery": 140.0}, "battery_pct"),
        ({"oil_life": -1.0}, "oil_life_pct"),
        ({"speed": math.inf}, "speed_kmh"),
        ({"lat": 95.0, "lon": 13.0}, "latitude"),
        ({"lat": 52.0, "lon": None}, "latitude"),
        ({"locked": "yes"}, "locked"),
        ({"tires_kpa": {"frontLeft": "flat"}}, "tires_kpa"),
        ({"doors": ["frontLeft"]}, "doors"),
        ({"range": True}, "range_km"),
    ],
)
@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
def test_bad_fields_are_dropped_alone(db, vehicle_ids, bad, column, caplog):
    vid = vehicle_ids[0]
    outcome = TelemetryStore(db).write_batch([reading(vid, odometer=5.0, **bad)])
    assert (outcome.stored, outcome.dropped_fields) == (1, 1)
    with db.session() as session:
        sample = session.scalars(select(TelemetrySample)).one()
    assert getattr(sample, column) is None and sample.odometer_km == 5.0
    assert "dropped" in caplog.text


@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry: dropped a reading of unknown vehicle"
)
@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry: dropped a reading: invalid vehicle id \-"
)
@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry: dropped a reading: not a TelemetryReading: str"
)
@pytest.mark.expect_log("app.models.telemetry_store", r"telemetry: dropped a reading: vehicle")
def test_unplaceable_readings_are_dropped_without_losing_the_rest(db, vehicle_ids):
    good = reading(vehicle_ids[0], fuel=10.0)
    naive = reading(vehicle_ids[1], fuel=20.0)
    object.__setattr__(naive, "received_at", naive.received_at.replace(tzinfo=None))
    batch = [
        good,
        reading(999_999, fuel=1.0),
        reading(-4, fuel=1.0),
        naive,
        "junk",
        reading(vehicle_ids[2], fuel=30.0, source="carrier-pigeon"),
    ]
    outcome = TelemetryStore(db).write_batch(batch)
    assert (outcome.stored, outcome.dropped_readings) == (1, 5)
    assert sample_count(db, vehicle_ids[0]) == 1


@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
def test_a_future_recorded_at_is_clamped_to_the_receive_time(db, vehicle_ids):
    r = reading(vehicle_ids[0], fuel=10.0)
    object.__setattr__(r, "recorded_at", r.received_at + timedelta(days=3))
    TelemetryStore(db).write_batch([r])
    with db.session() as session:
        assert session.scalars(select(TelemetrySample.recorded_at)).one() == r.received_at


def test_connection_bookkeeping_is_written_with_the_batch(db, vehicle_ids):
    with db.session() as session:
        connection = SmartcarConnection(
            vehicle_id=vehicle_ids[0], smartcar_vehicle_id="x", status="active"
        )
        session.add(connection)
        session.flush()
        cid = connection.id
    update = ConnectionPollUpdate(cid, "2026-03", 14, synced_at=T0, last_error="/fuel: X")
    TelemetryStore(db).write_batch([reading(vehicle_ids[0], fuel=1.0)], [update])
    TelemetryStore(db).write_batch([], [ConnectionPollUpdate(cid, "2026-03", 21)])
    with db.session() as session:
        row = session.get_one(SmartcarConnection, cid)
    assert (row.budget_month, row.requests_this_month, row.last_sync_at, row.last_error) == (
        "2026-03",
        21,
        T0,
        "/fuel: X",
    )


def test_series_returns_float_arrays_in_time_order_without_nulls(db, vehicle_ids):
    vid = vehicle_ids[0]
    store = TelemetryStore(db)
    store.write_batch(
        [
            reading(vid, 20, fuel=30.0),
            reading(vid, 10, fuel=35.0),
            reading(vid, 30, lat=1.0, lon=1.0),
            reading(vid, 40, fuel=25.0, locked=True),
        ]
    )
    queries = TelemetryQueries(db)
    times, values = queries.series(vid, "fuel_pct", T0, T0 + timedelta(seconds=35))
    assert times.dtype == np.float64 and values.dtype == np.float64
    assert times.tolist() == [T0.timestamp() + 10, T0.timestamp() + 20]
    assert values.tolist() == [35.0, 30.0]
    _, locked = queries.series(vid, "locked", T0, T0 + timedelta(hours=1))
    assert locked.tolist() == [1.0]
    empty = queries.series(vehicle_ids[1], "fuel_pct", T0, T0 + timedelta(hours=1))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)
    with pytest.raises(UnknownFieldError):
        queries.series(vid, "raw; DROP TABLE vehicle", T0, T0)
    assert queries.latest(vehicle_ids[2]) is None
