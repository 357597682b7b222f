from datetime import UTC, datetime, timedelta

import pytest

from app.models.field_tasks import Plan
from app.services.field_tasks.maintenance import add_months, assess, span

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_km_ahead_due_and_overdue():
    plan = Plan(1, every_km=15_000, last_service_km=10_000)
    assert assess(plan, 23_800, None, NOW).text == "due in 1,200 km"
    at_limit = assess(plan, 25_000, None, NOW)
    assert at_limit.due and not at_limit.overdue and at_limit.text == "due"
    late = assess(plan, 25_300, None, NOW)
    assert late.due and late.overdue and late.text == "overdue by 300 km"


def test_months_count_calendar_months():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2025, 6, 15, tzinfo=UTC), 12) == datetime(2026, 6, 15, tzinfo=UTC)
    yearly = Plan(1, every_months=12, last_service_at=NOW.replace(year=2025))
    assert assess(yearly, None, None, NOW).text == "due"  # exactly twelve months on
    assert assess(yearly, None, None, NOW - timedelta(days=21)).text == "due in 3 weeks"
    assert assess(yearly, None, None, NOW + timedelta(days=5)).text == "overdue by 5 days"


def test_both_criteria_show_and_the_first_reached_decides():
    plan = Plan(
        1,
        every_km=15_000,
        every_months=12,
        last_service_km=0,
        last_service_at=NOW.replace(year=2025),
    )
    before = NOW - timedelta(days=21)
    assert assess(plan, 13_800, None, before).text == "due in 1,200 km / 3 weeks"
    km_first = assess(plan, 15_500, None, before)
    assert km_first.overdue and km_first.text == "overdue by 500 km"


def test_oil_life_below_the_level_is_due():
    plan = Plan(1, oil_below_pct=15.0)
    assert assess(plan, None, 40.0, NOW) is None  # nothing to count down
    low = assess(plan, None, 12.0, NOW)
    assert low.due and not low.overdue and low.text == "due (oil life 12 %)"
    assert assess(plan, None, 15.0, NOW) is None  # at the level is not below it


def test_nothing_to_count_from():
    assert assess(Plan(1, every_km=15_000, last_service_km=0), None, None, NOW) is None
    assert assess(Plan(1, every_km=15_000), 5_000, None, NOW) is None
    assert Plan(1).empty and not Plan(1, every_months=6).empty


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(minutes=10), "1 hour"),
        (timedelta(hours=5), "5 hours"),
        (timedelta(days=3), "3 days"),
        (timedelta(days=21), "3 weeks"),
        (timedelta(days=120), "4 months"),
        (-timedelta(days=1), "24 hours"),
    ],
)
def test_spans_read_as_a_dispatcher_says_them(delta, words):
    assert span(delta) == words
