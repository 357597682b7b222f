"""One telemetry poll of one vehicle: token, ``POST /batch``, and booking the outcome.

Kept apart from the scheduler in :mod:`app.services.telemetry.cron` because this is where
a Smartcar answer becomes the vehicle's next due time and state (through
:mod:`app.services.poll_policy`); the cron only decides which vehicle goes next and
how many polls run at once. The token contract (``ensure_fresh_token`` and
``mark_expired``) is described in the cron's docstring.

Two more things leave here: the application-wide rate limit (a ``RATE_LIMIT:SMARTCAR_API``
anywhere in an answer pauses the client's :class:`AppRateGate`, and no poll is sent while
it is paused) and the connection's health (``report_health``, called after every poll that
says something about the connection, see :func:`connection_health.poll_health`; the
receiver writes only what differs from the stored status, so a status another part set
meanwhile, e.g. a failed token refresh, is corrected by the next poll).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from app.config import TelemetrySettings
from app.integrations.smartcar.client import SmartcarClient
from app.integrations.smartcar.errors import SmartcarError, SmartcarTimeoutError
from app.models.telemetry_connections import ConnectionPollUpdate
from app.services import poll_policy as policy
from app.services.connections.health import PollHealth, poll_health
from app.services.poll_policy import Outcome, Verdict
from app.services.telemetry.snapshot_readings import snapshot_readings
from app.services.telemetry.status import PollState
from app.services.telemetry.targets import VehicleTarget, as_datetime, roll_month
from app.services.telemetry.writer import TelemetryWriter

logger = logging.getLogger(__name__)


class EnsureFreshToken(Protocol):
    def __call__(
        self, connection_id: int, *, rejected: str | None = None
    ) -> Awaitable[str | None]: ...


MarkExpired = Callable[[int, str], Awaitable[None]]
#: ``report_health(connection_id, health)``: store Active/Error and its reason.
ReportHealth = Callable[[int, PollHealth], Awaitable[None]]
SetState = Callable[[VehicleTarget, PollState], None]
APP_PAUSED = "Smartcar's application-wide rate limit: every request paused"


class VehiclePoller:
    """Polls a :class:`VehicleTarget` and updates it; ``expired`` holds the connection ids
    it gave up on, which the cron leaves alone until the connection is re-made."""

    def __init__(
        self,
        client: SmartcarClient,
        writer: TelemetryWriter,
        *,
        ensure_fresh_token: EnsureFreshToken,
        mark_expired: MarkExpired,
        set_state: SetState,
        settings: TelemetrySettings,
        clock: Callable[[], float],
        rng: random.Random,
        request_timeout_s: float,
        report_health: ReportHealth | None = None,
    ) -> None:
        self._client = client
        self._report_health = report_health
        self._writer = writer
        self._ensure_fresh_token = ensure_fresh_token
        self._mark_expired = mark_expired
        self._set_state = set_state
        self._settings = settings
        self._clock = clock
        self._rng = rng
        self._timeout = request_timeout_s
        self.expired: set[int] = set()

    @property
    def _budget(self) -> int:
        return self._settings.monthly_request_budget

    async def poll(self, target: VehicleTarget) -> bool:
        """Poll once (twice after a 401 that a refresh fixed); True when data was read."""
        rejected: str | None = None
        while True:
            now = self._clock()
            roll_month(target, now)
            if (until := self.paused_until()) is not None:
                self._hold_back(target, until)
                return False
            try:
                token = await self._ensure_fresh_token(target.connection_id, rejected=rejected)
            except Exception as exc:
                logger.warning(
                    "telemetry: token for vehicle %s unavailable: %s",
                    target.vehicle_id,
                    type(exc).__name__,
                )
                self._apply(target, Outcome(Verdict.TRANSIENT, 0, "token refresh failed"), now)
                return False
            if token is None or token == rejected:
                await self._expire(target, "the Smartcar token could not be refreshed")
                return False
            outcome = await self._read(target, token, now)
            if outcome.verdict is Verdict.AUTH and rejected is None:
                target.used += outcome.billed
                rejected = token
                continue
            if outcome.verdict in (Verdict.AUTH, Verdict.REAUTH):
                target.used += outcome.billed
                self._record(target, outcome, now, synced=False)
                await self._expire(target, f"Smartcar refused the connection: {outcome.message}")
                return False
            read = self._apply(target, outcome, now)
            await self._health(target, outcome)
            return read

    def paused_until(self) -> float | None:
        """When the application-wide rate limit lets requests through again (None: now)."""
        return self._client.rate_gate.paused_until()

    def _hold_back(self, target: VehicleTarget, until: float) -> None:
        """The app is paused: nothing is sent, billed or counted as this car's failure."""
        target.next_due = until
        target.last_error = f"{APP_PAUSED} until {as_datetime(until):%H:%M:%S} UTC"
        self._set_state(target, PollState.RATE_LIMITED)

    async def _health(self, target: VehicleTarget, outcome: Outcome) -> None:
        if self._report_health is None:
            return
        health = poll_health(outcome, target.streaks.of(outcome.verdict))
        if health is None:
            return
        try:
            await self._report_health(target.connection_id, health)
        except Exception:
            logger.exception(
                "telemetry: could not store the health of connection %s", target.connection_id
            )

    async def _read(self, target: VehicleTarget, token: str, now: float) -> Outcome:
        kinds = list(target.kinds)
        try:
            snapshot = await asyncio.wait_for(
                self._client.read_snapshot(target.smartcar_vehicle_id, token, kinds),
                self._timeout,
            )
        except TimeoutError:
            return policy.classify_error(SmartcarTimeoutError("telemetry poll timed out"))
        except SmartcarError as exc:
            return policy.classify_error(exc)
        outcome = policy.classify_snapshot(snapshot, len(kinds))
        if (app_wide := policy.app_wide_limit(outcome)) is not None:
            self._client.rate_gate.hold(app_wide)  # one item said so: the app pauses
        readings = snapshot_readings(
            snapshot, target.vehicle_id, datetime.fromtimestamp(self._clock(), UTC)
        )
        if readings:
            self._writer.submit_many(readings)
        return outcome

    def _apply(self, target: VehicleTarget, outcome: Outcome, now: float) -> bool:
        """Book the outcome and decide when this vehicle is polled next."""
        target.used += outcome.billed
        target.last_poll_at = now
        read = outcome.verdict in (Verdict.SUCCESS, Verdict.PARTIAL)
        if outcome.unsupported:
            target.kinds = [k for k in target.kinds if k not in outcome.unsupported]
        interval = max(
            target.interval_s or float(self._settings.poll_interval_s), target.gap_fill_s or 0.0
        )
        paced = policy.paced_interval_s(self._budget, target.used, len(target.kinds), now)
        budget_floor = paced if paced is not None and paced > interval else 0.0
        verdict = outcome.verdict
        if read:
            target.failures = 0
            target.streaks.reset()
            target.last_success_at = now
            wait, state = max(interval, budget_floor, outcome.retry_after_s or 0.0), PollState.OK
        else:
            target.failures += 1
            streak = target.streaks.failed(verdict)
            if verdict is Verdict.RATE_LIMITED:
                wait = outcome.retry_after_s or policy.backoff_s(streak, self._rng)
                state = PollState.RATE_LIMITED
            elif verdict is Verdict.ASLEEP:
                wait, state = policy.asleep_s(streak, interval), PollState.ASLEEP
            elif verdict is Verdict.BILLING:
                target.used = max(target.used, self._budget)
                wait, state = policy.next_month_start(now) - now, PollState.BUDGET_PAUSED
            elif verdict is Verdict.BLOCKED:
                wait, state = policy.BLOCKED_S, PollState.BLOCKED
            else:
                wait = policy.backoff_s(streak, self._rng)
                state = PollState.BACKOFF
            wait = max(wait, budget_floor)
        if paced is None and state is PollState.OK:
            wait, state = policy.next_month_start(now) - now, PollState.BUDGET_PAUSED
        target.next_due = now + wait
        target.last_error = outcome.message
        self._set_state(target, state)
        self._record(target, outcome, now, synced=read)
        if not read:
            logger.info(
                "telemetry: vehicle %s %s (%s); next poll in %.0f s",
                target.vehicle_id,
                verdict.value,
                outcome.message,
                wait,
            )
        return read

    def _record(self, target: VehicleTarget, outcome: Outcome, now: float, *, synced: bool) -> None:
        self._writer.record_poll(
            ConnectionPollUpdate(
                target.connection_id,
                target.month,
                target.used,
                synced_at=as_datetime(now) if synced else None,
                last_error=outcome.message,
                polled_at=as_datetime(now),
            )
        )

    async def _expire(self, target: VehicleTarget, reason: str) -> None:
        self.expired.add(target.connection_id)
        target.last_error = reason
        self._set_state(target, PollState.EXPIRED)
        logger.warning("telemetry: connection %s expired: %s", target.connection_id, reason)
        try:
            await self._mark_expired(target.connection_id, reason)
        except Exception:
            logger.exception(
                "telemetry: could not mark connection %s expired", target.connection_id
            )
