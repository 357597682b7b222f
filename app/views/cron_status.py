"""The status-bar indicator of the telemetry cron: last cycle, vehicles polled, errors, next
run, and when the SELECTED car is read next.

It reads the cron's status snapshot on a timer rather than being pushed to, so a cron
that hangs shows as a "last cycle" that keeps ageing instead of going silent. The selected
car's next read is what an operator waits for ("Next read of Tesla in 3 h 12 min",
"paused: rate limited until 14:05"): with a monthly budget a car may be read only a few
times a day, and the fleet-wide "next in 3 s" says nothing about this one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.services.telemetry.status import CronStatus, PollState, VehiclePollStatus
from app.views import formatting as fmt

logger = logging.getLogger(__name__)

REFRESH_MS = 2_000
VehicleStatus = Callable[[int], VehiclePollStatus | None]
ERROR_STYLE = "color: #c62828"


def describe(status: CronStatus | None, now: datetime | None = None) -> str:
    """'Telemetry: last cycle 2 min ago · 40 polled · 0 errors · next in 3 min'."""
    if status is None or not status.running:
        return "Telemetry: not running"
    now = now or datetime.now(UTC)
    if status.last_cycle_at is None:
        last = "no cycle yet"
    else:
        last = f"last cycle {fmt.age(status.last_cycle_at, now)}"
    errors = status.last_cycle_errors
    parts = [
        f"Telemetry: {last}",
        f"{status.last_cycle_vehicles:,} polled",
        f"{errors:,} error{'s' if errors != 1 else ''}",
    ]
    if status.paused_until is not None:
        parts.append(
            f"all polls paused: rate limited until {_clock_time(status.paused_until, now)}"
        )
    elif status.next_run_at is not None:
        seconds = (status.next_run_at - now).total_seconds()
        parts.append("next run now" if seconds <= 0 else f"next in {_duration(seconds)}")
    if status.writer_error:
        parts.append("storing fails")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _hours_minutes(seconds: float) -> str:
    """'45 s', '12 min', '3 h 12 min', '2 d 4 h'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _clock_time(when: datetime, now: datetime) -> str:
    local, today = when.astimezone(), now.astimezone()
    return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%d %b %H:%M}"


def next_read(name: str, status: VehiclePollStatus | None, now: datetime | None = None) -> str:
    """When the selected car is read next, in the operator's words ('' for no car)."""
    now = now or datetime.now(UTC)
    if status is None:
        return f"{name}: not polled (no active Smartcar connection)"
    if status.state is PollState.EXPIRED:
        return f"{name}: not polled (reconnect needed)"
    if status.next_poll_at is None:
        return f"Reading {name} now"
    until = _clock_time(status.next_poll_at, now)
    seconds = (status.next_poll_at - now).total_seconds()
    if status.state is PollState.RATE_LIMITED and seconds > 0:
        return f"Next read of {name} paused: rate limited until {until}"
    if status.state is PollState.BUDGET_PAUSED and seconds > 0:
        return f"Next read of {name} paused: monthly request budget used up until {until}"
    if seconds <= 0:
        return f"Next read of {name} due now"
    return f"Next read of {name} in {_hours_minutes(seconds)}"


class CronStatusLabel(QLabel):
    """A permanent status-bar label refreshed every ``REFRESH_MS`` from ``snapshot()``."""

    def __init__(
        self,
        snapshot: Callable[[], CronStatus | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("cronStatus")
        self._snapshot = snapshot
        self._vehicle_status: VehicleStatus | None = None
        self._selected: tuple[int, str] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    def set_source(
        self,
        snapshot: Callable[[], CronStatus | None],
        vehicle_status: VehicleStatus | None = None,
    ) -> None:
        """Read from this cron from now on (it may start after the window);
        ``vehicle_status(vehicle_id)`` gives the selected car's polling."""
        self._snapshot = snapshot
        self._vehicle_status = vehicle_status
        self.refresh()

    def show_vehicle(self, vehicle_id: int | None, name: str = "") -> None:
        """The selected car (None: none, or not a Smartcar car) whose next read is shown."""
        self._selected = None if vehicle_id is None else (vehicle_id, name)
        self.refresh()

    def refresh(self) -> None:
        try:
            status = self._snapshot()
            text = describe(status)
            selected, per_vehicle = self._selected, self._vehicle_status
            if status is not None and status.running and selected and per_vehicle:
                text += " · " + next_read(selected[1], per_vehicle(selected[0]))
        except Exception:  # an indicator must never take the window down
            logger.exception("reading the telemetry cron status failed")
            status = None
            text = describe(None)
        self.setText(text)
        failing = status is not None and bool(status.last_cycle_errors or status.writer_error)
        self.setStyleSheet(ERROR_STYLE if failing else "")
        self.setToolTip(_details(status))


def _details(status: CronStatus | None) -> str:
    if status is None:
        return "The telemetry cron is not running in this console."
    lines = [
        f"Active connections: {status.vehicles_active:,} (expired: {status.vehicles_expired:,})",
        f"Polls in flight: {status.in_flight:,}",
        f"Polls since start: {status.polls_total:,}, errors: {status.errors_total:,}",
        f"Requests this month: {status.requests_this_month:,}",
    ]
    if status.last_cycle_at is not None:
        local = status.last_cycle_at.astimezone()
        took = status.last_cycle_duration_s
        lines.insert(
            0,
            f"Last cycle at {local:%Y-%m-%d %H:%M:%S}"
            + (f" ({took:.1f} s)" if took is not None else ""),
        )
    if status.writer_error:
        lines.append(f"Storing telemetry fails: {status.writer_error}")
    return "\n".join(lines)
