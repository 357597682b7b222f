"""The rental gate and motion (issue #13 item 8): unknown motion is not "not moving"."""

from datetime import UTC, datetime, timedelta

from app.models.telemetry_queries import LatestState, LatestValue
from app.services.rental_gate import GateFacts, check_gate

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=30)


def facts(**values: tuple[object, datetime]) -> GateFacts:
    latest = LatestState(1, {k: LatestValue(v, at) for k, (v, at) in values.items()}, NOW, NOW)
    return GateFacts(1, "iot", False, None, True, latest, None)


def test_no_speed_reading_is_an_overridable_problem():
    gate = check_gate(facts(battery_pct=(80.0, NOW)), NOW, LIMIT)
    assert not gate.ok and gate.overridable == gate.problems
    assert gate.problems[0].startswith("Motion unknown: no speed reading in the last 30 min.")
    assert not gate.allows("") and not gate.allows("  ") and gate.allows("seen parked")


def test_an_old_speed_reading_is_unknown_too():
    gate = check_gate(facts(speed_kmh=(0.0, NOW - timedelta(minutes=31))), NOW, LIMIT)
    assert gate.overridable and "Motion unknown" in gate.problems[0]


def test_standing_still_passes_and_moving_cannot_be_overridden():
    assert check_gate(facts(speed_kmh=(0.0, NOW)), NOW, LIMIT).ok
    moving = check_gate(facts(speed_kmh=(18.0, NOW)), NOW, LIMIT)
    assert moving.problems == ("The vehicle is moving (18 km/h); it is not unlocked remotely.",)
    assert not moving.overridable and not moving.allows("trust me")
