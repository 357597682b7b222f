"""The status-bar indicator of the telemetry cron."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.services.telemetry_status import CronStatus
from app.views.cron_status import CronStatusLabel, describe

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
