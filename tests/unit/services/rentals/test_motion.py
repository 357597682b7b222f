"""The motion judgement (app.services.rentals.motion): speed first, else the positions."""

from datetime import UTC, datetime, timedelta

import pytest

from app.models.track_queries import Fix
from app.services.rentals.motion import TOLERANCE_M, Motion, distance_m, judge_motion

NOW = datetime(2026, 3, 1, 9, 42, tzinfo=UTC)
FRESH = timedelta(minutes=30)
LAT, LON = 48.1372, 11.5756
#: Metres per degree of latitude (and of longitude here), for building offsets.
M_PER_DEG_LAT = 111_195.0


def at(minutes_ago: float, north_m: float = 0.0) -> Fix:
    return Fix(NOW - timedelta(minutes=minutes_ago), LAT + north_m / M_PER_DEG_LAT, LON)


def test_distance_is_the_great_circle_distance():
    assert distance_m(at(0), at(0, 1000.0)) == pytest.approx(1000.0, rel=1e-3)
    # Munich -> Berlin, about 504 km
    assert distance_m(Fix(NOW, LAT, LON), Fix(NOW, 52.5200, 13.4050)) == pytest.approx(
        504_400, rel=0.01
    )


def test_a_fresh_speed_decides_over_positions():
    assert judge_motion(0.0, [at(0), at(1, 900.0)], NOW, FRESH).motion is Motion.PARKED
    moving = judge_motion(12.0, [at(0), at(30)], NOW, FRESH)
    assert (moving.motion, moving.text) == (Motion.MOVING, "Moving: 12 km/h reported.")


def test_same_position_for_minutes_is_parked_since_the_first_read():
    fixes = [at(0), at(18, 30.0), at(60, 1500.0)]  # arrived 18 min ago, jitter 30 m
    verdict = judge_motion(None, fixes, NOW, FRESH)
    assert verdict.motion is Motion.PARKED
    assert verdict.text == "Parked: same position since 09:24 UTC (2 reads)."


def test_jitter_is_measured_from_the_newest_fix_not_accumulated():
    """40 m steps: each is within 50 m of the one before, but the fix 80 m from the
    newest ends the run (a slow crawl is not "the same position")."""
    fixes = [at(0), at(2, 40.0), at(4, 80.0), at(6, 120.0)]
    verdict = judge_motion(None, fixes, NOW, FRESH)
    assert verdict.motion is Motion.MOVING
    assert verdict.text.startswith("Moving: 80 m in 4 min")


def test_a_move_beyond_tolerance_just_now_is_moving():
    verdict = judge_motion(None, [at(0), at(3, 420.0)], NOW, FRESH)
    assert verdict.motion is Motion.MOVING
    assert verdict.text.startswith("Moving: 420 m in 3 min")


def test_just_inside_the_tolerance_is_the_same_position():
    fixes = [at(0), at(6, TOLERANCE_M - 1)]
    assert judge_motion(None, fixes, NOW, FRESH).motion is Motion.PARKED
    fixes = [at(0), at(6, TOLERANCE_M + 1)]
    assert judge_motion(None, fixes, NOW, FRESH).motion is Motion.MOVING


@pytest.mark.parametrize(
    ("fixes", "why"),
    [
        ([], "no speed reading and no position"),
        ([at(0)], "this vehicle reports no speed and has one position"),
        ([at(0), at(2)], "the position has been the same for 2 min (less than 5 min)"),
        ([at(40), at(60)], "the last position is 40 min old"),
        ([at(0), at(45, 3000.0)], "one position here (3,000 m away 45 min earlier)"),
    ],
)
def test_too_little_evidence_is_unknown(fixes, why):
    verdict = judge_motion(None, fixes, NOW, FRESH)
    assert verdict.motion is Motion.UNKNOWN
    assert why in verdict.text


def test_fixes_in_any_order_are_judged_newest_first():
    verdict = judge_motion(None, [at(18), at(0)], NOW, FRESH)
    assert verdict.text == "Parked: same position since 09:24 UTC (2 reads)."
