"""The rental gate and motion (issue #13 item 8): unknown motion is not "not moving", and
a car without speed (Smartcar) is judged from its positions (app.services.rentals.motion)."""

from datetime import UTC, datetime, timedelta

from app.models.telemetry_queries import LatestState, LatestValue
from app.models.track_queries import Fix
from app.services.rentals.gate import GateFacts, check_gate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=30)
HERE = (52.5200, 13.4050)


def facts(*fixes: Fix, **values: tuple[object, datetime]) -> GateFacts:
    latest = LatestState(1, {k: LatestValue(v, at) for k, (v, at) in values.items()}, NOW, NOW)
    return GateFacts(1, "iot", False, None, True, latest, None, fixes)


def test_no_speed_and_no_position_is_an_overridable_problem():
    gate = check_gate(facts(battery_pct=(80.0, NOW)), NOW, LIMIT)
    assert not gate.ok and gate.overridable == gate.problems
    assert gate.problems[0].startswith("Motion unknown: no speed reading and no position")
    assert not gate.allows("") and not gate.allows("  ") and gate.allows("seen parked")


def test_an_old_speed_reading_is_unknown_too():
    gate = check_gate(facts(speed_kmh=(0.0, NOW - timedelta(minutes=31))), NOW, LIMIT)
    assert gate.overridable and "Motion unknown" in gate.problems[0]


def test_standing_still_passes_and_moving_cannot_be_overridden():
    still = check_gate(facts(speed_kmh=(0.0, NOW)), NOW, LIMIT)
    assert still.ok and still.motion == "Parked: the vehicle reports 0 km/h."
    moving = check_gate(facts(speed_kmh=(18.0, NOW)), NOW, LIMIT)
    assert moving.problems == ("Moving: 18 km/h reported. It is not unlocked remotely.",)
    assert not moving.overridable and not moving.allows("trust me")


def test_a_car_without_speed_at_the_same_position_for_a_while_passes():
    """The fresh read is the latest state's position; the stored fix 20 min earlier is
    10 m away (GPS scatter): parked, and the gate says how it knows."""
    earlier = Fix(NOW - timedelta(minutes=20), HERE[0] + 0.00009, HERE[1])
    gate = check_gate(facts(earlier, latitude=(HERE[0], NOW), longitude=(HERE[1], NOW)), NOW, LIMIT)
    assert gate.ok, gate.problems
    assert gate.motion == "Parked: same position since 08:40 UTC (2 reads)."


def test_a_car_without_speed_that_moved_is_refused_without_override():
    earlier = Fix(NOW - timedelta(minutes=3), HERE[0] + 0.0038, HERE[1])  # ~420 m north
    gate = check_gate(facts(earlier, latitude=(HERE[0], NOW), longitude=(HERE[1], NOW)), NOW, LIMIT)
    assert not gate.overridable and not gate.allows("trust me")
    assert gate.problems[0].startswith("Moving: 423 m in 3 min (try again once it has stood")


def test_a_car_with_one_position_is_motion_unknown():
    gate = check_gate(facts(latitude=(HERE[0], NOW), longitude=(HERE[1], NOW)), NOW, LIMIT)
    assert gate.problems == gate.overridable
    assert gate.problems[0].startswith(
        "Motion unknown: this vehicle reports no speed and has one position."
    )
