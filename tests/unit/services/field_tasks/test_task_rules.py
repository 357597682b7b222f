from datetime import UTC, datetime, timedelta

from app.config import TaskSettings
from app.models.field_tasks import Plan, TaskFacts
from app.services.field_tasks.rules import wanted

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
S = TaskSettings(battery_swap_below_pct=20, silent_after_min=60)


def kinds(facts: TaskFacts, open_kinds=(), watched_since=None) -> dict[str, str]:
    return {
        w.kind.value: w.priority.value for w in wanted(facts, NOW, S, open_kinds, watched_since)
    }


def test_low_battery_on_a_scooter_asks_for_a_swap_not_on_a_car_or_while_charging():
    assert kinds(TaskFacts(1, "scooter", battery_pct=19.5, last_heard_at=NOW)) == {
        "battery_swap": "normal"
    }
    assert kinds(TaskFacts(1, "e-bike", battery_pct=8, last_heard_at=NOW)) == {
        "battery_swap": "high"
    }
    assert kinds(TaskFacts(1, "scooter", battery_pct=20, last_heard_at=NOW)) == {}
    assert kinds(TaskFacts(1, "car", battery_pct=5, last_heard_at=NOW)) == {}
    assert kinds(TaskFacts(1, "scooter", battery_pct=5, charging=True, last_heard_at=NOW)) == {}


def test_silence_asks_for_an_inspection_counted_from_when_we_listen():
    old = NOW - timedelta(minutes=61)
    assert kinds(TaskFacts(1, last_heard_at=old)) == {"inspection": "normal"}
    assert kinds(TaskFacts(1, last_heard_at=NOW - timedelta(minutes=60))) == {}
    assert kinds(TaskFacts(1, last_heard_at=old), watched_since=NOW - timedelta(minutes=5)) == {}
    assert kinds(TaskFacts(1, status="maintenance", last_heard_at=old)) == {}
    assert kinds(TaskFacts(1)) == {}  # never heard: nothing to say


def test_maintenance_due_asks_for_a_repair_overdue_is_high():
    plan = Plan(1, every_km=1000, last_service_km=0)
    assert kinds(TaskFacts(1, "car", odometer_km=1000, plan=plan, last_heard_at=NOW)) == {
        "repair": "normal"
    }
    assert kinds(TaskFacts(1, "car", odometer_km=1001, plan=plan, last_heard_at=NOW)) == {
        "repair": "high"
    }
    assert kinds(TaskFacts(1, "car", odometer_km=999, plan=plan, last_heard_at=NOW)) == {}


def test_outside_the_service_area_asks_for_a_rebalance():
    assert kinds(TaskFacts(1, outside_service_area=True, last_heard_at=NOW)) == {
        "rebalance": "normal"
    }


def test_a_kind_already_open_is_not_asked_again():
    facts = TaskFacts(1, "scooter", battery_pct=3, outside_service_area=True, last_heard_at=NOW)
    assert kinds(facts, open_kinds={"battery_swap"}) == {"rebalance": "normal"}
