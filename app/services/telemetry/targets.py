"""The telemetry cron's per-vehicle bookkeeping, and the status snapshot made from it.

Both the scheduler (:mod:`app.services.telemetry.cron`) and the single poll
(:mod:`app.services.telemetry.poll`) read and update these records, so they live apart
from either; the snapshot is built here because it only ever looks at one record.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.config import TelemetrySettings
from app.integrations.smartcar.client import SNAPSHOT_KINDS
from app.integrations.smartcar.models import DataKind
from app.services import poll_policy as policy
from app.services.telemetry.status import PollState, VehiclePollStatus


def as_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


@dataclass
class PollCycle:
    """The scheduled polls started at one wake-up; the status bar's "last cycle"."""

    started: float
    size: int = 0
    pending: int = 0
    errors: int = 0


@dataclass(eq=False)
class VehicleTarget:
    connection_id: int
    vehicle_id: int
    smartcar_vehicle_id: str
    month: str
    used: int
    next_due: float
    interval_s: float | None = None  # None: the setting
    #: Subscribed to webhooks: polled only after this long without a delivery (gap fill).
    gap_fill_s: float | None = None
    kinds: list[DataKind] = field(default_factory=lambda: list(SNAPSHOT_KINDS))
    state: PollState = PollState.PENDING
    failures: int = 0  # consecutive failed polls, any kind
    streaks: policy.Streaks = field(default_factory=policy.Streaks)
    last_poll_at: float | None = None
    last_success_at: float | None = None
    last_error: str = ""
    ticket: int = 0  # queue entries with an older ticket are stale
    queued: bool = False
    running: bool = False
    cycle: PollCycle | None = None
    waiters: list[asyncio.Future[VehiclePollStatus | None]] = field(default_factory=list)


def roll_month(target: VehicleTarget, now: float) -> None:
    month = policy.month_key(now)
    if target.month != month:
        target.month, target.used = month, 0
        if target.state is PollState.BUDGET_PAUSED:
            target.state = PollState.OK


def poll_status(t: VehicleTarget, settings: TelemetrySettings) -> VehiclePollStatus:
    idle = not (t.queued or t.running) and t.state is not PollState.EXPIRED
    return VehiclePollStatus(
        vehicle_id=t.vehicle_id,
        connection_id=t.connection_id,
        state=t.state,
        next_poll_at=as_datetime(t.next_due) if idle else None,
        last_poll_at=as_datetime(t.last_poll_at),
        last_success_at=as_datetime(t.last_success_at),
        last_error=t.last_error,
        failures=t.failures,
        interval_s=t.interval_s or float(settings.poll_interval_s),
        budget_month=t.month,
        requests_this_month=t.used,
        monthly_budget=settings.monthly_request_budget,
        paths=tuple(k.value for k in t.kinds),
    )
