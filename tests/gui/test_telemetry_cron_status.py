"""The status-bar indicator of the telemetry cron."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.services.telemetry.status import CronStatus, PollState, VehiclePollStatus
from app.views.cron_status import CronStatusLabel, describe, next_read
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STATUS = CronStatus(
    running=True,
    vehicles_active=40,
    vehicles_expired=1,
    last_cycle_at=NOW - timedelta(minutes=2),
    last_cycle_duration_s=1.5,
    last_cycle_vehicles=40,
    last_cycle_errors=0,
    next_run_at=NOW + timedelta(minutes=3),
    in_flight=0,
    polls_total=400,
    errors_total=2,
    requests_this_month=120,
    writer_error=None,
)


def test_describe_says_last_cycle_polled_errors_and_next_run():
    assert describe(STATUS, NOW) == (
        "Telemetry: last cycle 2 min ago · 40 polled · 0 errors · next in 3 min"
    )
    first = replace(STATUS, last_cycle_at=None, last_cycle_errors=1, next_run_at=NOW)
    assert describe(first, NOW) == "Telemetry: no cycle yet · 40 polled · 1 error · next run now"
    assert describe(None, NOW) == "Telemetry: not running"
    assert describe(replace(STATUS, running=False), NOW) == "Telemetry: not running"


@pytest.mark.expect_log(
    "app.views.cron_status", r"reading the telemetry cron status failed", level="ERROR"
)
def test_label_reads_its_source_and_survives_a_failing_one(qtbot):
    snapshots = [replace(STATUS, last_cycle_at=datetime.now(UTC), last_cycle_errors=3)]
    label = CronStatusLabel(lambda: snapshots[-1])
    qtbot.addWidget(label)
    assert "3 errors" in label.text() and "c62828" in label.styleSheet()
    assert "Polls since start: 400" in label.toolTip()

    def broken():
        raise RuntimeError("cron gone")

    label.set_source(broken)
    assert label.text() == "Telemetry: not running"
    assert label.timer.isActive()


async def test_main_window_has_the_indicator(window):
    label = window.telemetry_views.cron_label
    assert label.text() == "Telemetry: not running"
    window.telemetry_views.set_cron_status(lambda: STATUS)
    assert "40 polled" in label.text()


def _poll(state: PollState, next_at: datetime | None) -> VehiclePollStatus:
    return VehiclePollStatus(
        vehicle_id=7,
        connection_id=3,
        state=state,
        next_poll_at=next_at,
        last_poll_at=None,
        last_success_at=None,
        last_error="",
        failures=0,
        interval_s=300.0,
        budget_month="2026-11",
        requests_this_month=0,
        monthly_budget=500,
        paths=(),
    )


def test_the_selected_cars_next_read_in_words():
    later = NOW + timedelta(hours=3, minutes=12, seconds=5)
    assert next_read("Tesla", _poll(PollState.OK, later), NOW) == (
        "Next read of Tesla in 3 h 12 min"
    )
    assert next_read("Tesla", _poll(PollState.BACKOFF, NOW), NOW) == "Next read of Tesla due now"
    until_at = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
    limited = next_read("Tesla", _poll(PollState.RATE_LIMITED, until_at), NOW)
    assert limited == (
        f"Next read of Tesla paused: rate limited until {until_at.astimezone():%H:%M}"
    )
    assert next_read("Tesla", _poll(PollState.OK, None), NOW) == "Reading Tesla now"
    expired = next_read("Tesla", _poll(PollState.EXPIRED, None), NOW)
    assert expired == "Tesla: not polled (reconnect needed)"
    assert next_read("Tesla", None, NOW) == "Tesla: not polled (no active Smartcar connection)"


def test_no_workers_text_and_an_app_wide_pause_is_said():
    paused = replace(STATUS, paused_until=NOW + timedelta(minutes=5))
    text = describe(paused, NOW)
    assert "all polls paused: rate limited until" in text and "next in" not in text
    assert "Workers" not in describe(STATUS, NOW)


@pytest.fixture
def smartcar_car(context):
    """One demo car marked as Smartcar-connected, so the status bar follows it."""
    from app.models.orm import Vehicle

    car = next(r for r in context.vehicles.repository.list_rows() if r.kind == "car")
    with context.database.session() as session:
        session.get_one(Vehicle, car.id).connection_type = "smartcar"
    return car


async def test_selecting_a_smartcar_car_shows_when_it_is_read_next(smartcar_car, window):
    due = datetime.now(UTC) + timedelta(hours=3, minutes=12, seconds=30)
    asked: list[int] = []

    def vehicle_status(vehicle_id: int) -> VehiclePollStatus:
        asked.append(vehicle_id)
        return _poll(PollState.OK, due)

    views = window.telemetry_views
    views.set_cron_status(lambda: STATUS, vehicle_status)
    assert "Next read" not in views.cron_label.text()  # nothing selected yet
    window.select_vehicle(smartcar_car.id)
    await until(lambda: "Next read of" in views.cron_label.text(), what="the next read")
    assert views.cron_label.text().endswith(f"Next read of {smartcar_car.name} in 3 h 12 min")
    assert asked[-1] == smartcar_car.id
    other = next(r for r in window.model.rows if r.connection_type == "iot")
    window.select_vehicle(other.id)
    await until(lambda: "Next read" not in views.cron_label.text(), what="no next read")
