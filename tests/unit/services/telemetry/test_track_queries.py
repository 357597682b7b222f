"""The route replay's track query on a real SQLite file: fixes, carried readings, gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.telemetry_store import TelemetryStore
from app.models.track_queries import TrackQueries, split_at_gaps
from tests.unit.services.telemetry.conftest import T0, reading


def test_split_at_gaps_uses_three_times_the_median_interval():
    times = [0.0, 60, 120, 180, 240, 1000, 1060, 1120]
    assert split_at_gaps(times) == [(0, 5), (5, 8)]
    assert split_at_gaps([0.0, 60, 120, 179]) == [(0, 4)]  # jitter is no gap
    assert split_at_gaps([0.0, 5000]) == [(0, 2)]  # no usual rate to compare with
    assert split_at_gaps([]) == []


def test_track_has_the_stored_fixes_readings_carried_and_a_gap(db, vehicle_ids):
    vid, other = vehicle_ids[0], vehicle_ids[1]
    before = reading(vid, -3600, fuel=70.0, odometer=990.0, locked=True)
    minute = [
        reading(vid, 60 * i, lat=52.5 + i / 1000, lon=13.4, speed=30.0 + i, odometer=1000.0 + i)
        for i in range(5)
    ]
    late = [reading(vid, 3600 + 60 * i, lat=52.6, lon=13.5 + i / 1000) for i in range(3)]
    unlock = reading(vid, 90, locked=False)  # no position: a reading, not a fix
    TelemetryStore(db, heartbeat_s=None).write_batch(
        [before, *minute, unlock, *late, reading(other, 30, lat=1.0, lon=1.0)]
    )

    track = TrackQueries(db).track(vid, T0 - timedelta(minutes=1), T0 + timedelta(hours=2))

    assert [(f.lat, f.lon) for f in track.fixes][:2] == [(52.5, 13.4), (52.501, 13.4)]
    assert len(track.fixes) == 8
    assert track.segments == ((0, 5), (5, 8))
    assert len(track.gaps) == 1
    assert track.gaps[0].start == T0 + timedelta(minutes=4)
    assert track.gaps[0].seconds == pytest.approx(3600 - 240)

    first = track.reading_at(T0)
    assert first is not None
    assert (first.fuel_pct, first.locked, first.speed_kmh) == (70.0, True, 30.0)  # carried
    after_unlock = track.reading_at(T0 + timedelta(seconds=100))
    assert after_unlock is not None and after_unlock.locked is False
    assert after_unlock.odometer_km == 1001.0
    assert track.reading_at(T0 - timedelta(seconds=30)) is None

    # Within a segment the position is interpolated; across the gap it is held.
    lat, lon = track.position_at(T0 + timedelta(seconds=30)) or (0, 0)
    assert lat == pytest.approx(52.5005) and lon == pytest.approx(13.4)
    assert track.position_at(T0 + timedelta(minutes=30)) == (52.504, 13.4)


def test_an_empty_range_and_bad_bounds(db, vehicle_ids):
    track = TrackQueries(db).track(vehicle_ids[2], T0, T0 + timedelta(hours=1))
    assert track.fixes == () and track.gaps == () and track.position_at(T0) is None
    with pytest.raises(ValueError, match="ends before"):
        TrackQueries(db).track(vehicle_ids[2], T0, T0)
    with pytest.raises(ValueError, match="naive"):
        TrackQueries(db).track(vehicle_ids[2], T0.replace(tzinfo=None), T0)


def test_recent_fixes_are_the_newest_positions_since_a_time_newest_first(db, vehicle_ids):
    """The rental gate's motion judgement reads these (app.services.rentals.motion)."""
    vid, other = vehicle_ids[0], vehicle_ids[1]
    TelemetryStore(db, heartbeat_s=None).write_batch(
        [
            reading(vid, -7200, lat=50.0, lon=10.0),  # before ``since``
            *(reading(vid, 60 * i, lat=52.5 + i / 1000, lon=13.4) for i in range(4)),
            reading(vid, 300, fuel=40.0),  # no position: not a fix
            reading(other, 120, lat=1.0, lon=1.0),
        ]
    )
    fixes = TrackQueries(db).recent_fixes(vid, T0 - timedelta(hours=1), 3)
    assert [(f.at - T0).total_seconds() for f in fixes] == [180, 120, 60]
    assert (fixes[0].lat, fixes[0].lon) == (52.503, 13.4)
    assert TrackQueries(db).recent_fixes(vid, T0 + timedelta(hours=1), 10) == []
    with pytest.raises(ValueError, match="naive"):
        TrackQueries(db).recent_fixes(vid, T0.replace(tzinfo=None), 3)
