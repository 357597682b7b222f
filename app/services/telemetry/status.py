"""Snapshots the telemetry cron hands to the UI: per vehicle and for the status bar.

Plain frozen dataclasses, safe to keep and compare in the views; all times UTC-aware.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class PollState(enum.StrEnum):
    """Where one vehicle's polling stands."""

    PENDING = "pending"  # not polled yet
    OK = "ok"
    RATE_LIMITED = "rate_limited"  # waiting for Retry-After
    BACKOFF = "backoff"  # server errors or timeouts: retrying later, with jitter
    ASLEEP = "asleep"  # asleep or unreachable: polled rarely
    BUDGET_PAUSED = "budget_paused"  # this month's request budget is used up
    BLOCKED = "blocked"  # needs a human (owner account, refused request)
    EXPIRED = "expired"  # the owner must reconnect; no longer polled


@dataclass(frozen=True, slots=True)
class VehiclePollStatus:
    """One vehicle's polling, including its monthly request budget."""

    vehicle_id: int
    connection_id: int
    state: PollState
    next_poll_at: datetime | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    failures: int
    interval_s: float
    budget_month: str
    requests_this_month: int
    monthly_budget: int
    paths: tuple[str, ...]

    @property
    def budget_left(self) -> int:
        return max(0, self.monthly_budget - self.requests_this_month)


@dataclass(frozen=True, slots=True)
class CronStatus:
    """For the status bar: the last full cycle, totals and when the next poll is due."""

    running: bool
    vehicles_active: int
    vehicles_expired: int
    last_cycle_at: datetime | None
    last_cycle_duration_s: float | None
    last_cycle_vehicles: int
    last_cycle_errors: int
    next_run_at: datetime | None
    in_flight: int
    polls_total: int
    errors_total: int
    requests_this_month: int
    writer_error: str | None
    queued: int = 0  # polls waiting for a free worker
    paused_until: datetime | None = None  # Smartcar's app-wide rate limit holds every poll
