"""The status-bar indicator of the telemetry cron: last cycle, vehicles polled, errors, next run.

It reads the cron's status snapshot on a timer rather than being pushed to, so a cron
that hangs shows as a "last cycle" that keeps ageing instead of going silent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.services.telemetry_status import CronStatus
from app.views import formatting as fmt

logger = logging.getLogger(__name__)

REFRESH_MS = 2_000
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
    if status.next_run_at is not None:
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
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    def set_source(self, snapshot: Callable[[], CronStatus | None]) -> None:
        """Read from this cron from now on (it may start after the window)."""
        self._snapshot = snapshot
        self.refresh()

    def refresh(self) -> None:
        try:
            status = self._snapshot()
        except Exception:  # an indicator must never take the window down
            logger.exception("reading the telemetry cron status failed")
            status = None
        self.setText(describe(status))
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
