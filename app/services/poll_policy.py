"""How the telemetry cron judges a poll and decides when to poll next (pure functions).

Kept apart from the scheduling machinery so every rule can be tested without a network:

* **What an answer means** (:func:`classify_snapshot`, :func:`classify_error`). A batch
  answers 200 even when every item failed, so the items decide: some values read is a
  success (failed items are recorded, not retried early); no value read is judged by the
  item errors the same way a whole-request error is. ``/fuel`` on an EV
  (``COMPATIBILITY``) and paths outside the granted scopes (``PERMISSION``) are expected
  gaps: the cron stops asking for them, which also saves budget.
* **What it costs** (``billed``): Smartcar bills every batch sub-request; a request refused
  before it reached the car (401, 429, 430, no answer at all) is not counted.
* **When to retry**: ``Retry-After`` as given (300 s when a 429 has none; the client caps
  it at one hour), per car for ``RATE_LIMIT:VEHICLE`` and for the whole application for
  ``RATE_LIMIT:SMARTCAR_API``; server errors and timeouts back off exponentially from 30 s
  to 15 minutes with ±20 % jitter so a thousand cars that failed together do not retry
  together; an asleep or unreachable car waits 30 minutes, doubling up to 2 hours, because
  every poll of it is billed and may wake it. Each failure kind counts its own streak
  (:class:`Streaks`), so one "asleep" after a run of 5xx waits 30 minutes, not the doubling
  the 5xx earned; any read resets every streak.
* **Budget**: scheduled polls are paced so the month's budget (less a reserve kept for
  "Refresh now") lasts until the month ends; the interval only grows beyond the configured
  one when the remaining budget would not last.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.integrations.smartcar.errors import (
    AuthenticationError,
    BillingError,
    CompatibilityError,
    PermissionDeniedError,
    RateLimitError,
    SmartcarApiError,
    SmartcarError,
    VehicleStateError,
)
from app.integrations.smartcar.models import DataKind, VehicleSnapshot
from app.integrations.smartcar.rate_gate import is_app_wide

DEFAULT_RETRY_AFTER_S = 300.0
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 900.0
ASLEEP_MIN_S = 1800.0
ASLEEP_CAP_S = 2 * 3600.0
BLOCKED_S = 6 * 3600.0
MANUAL_RESERVE = 0.1
_SLEEPY_CODES = frozenset({"ASLEEP", "UNREACHABLE"})


class Verdict(enum.StrEnum):
    SUCCESS = "success"  # every wanted value read
    PARTIAL = "partial"  # some values read, some items failed
    RATE_LIMITED = "rate_limited"
    ASLEEP = "asleep"
    TRANSIENT = "transient"  # 5xx, timeouts, garbage: back off and retry
    AUTH = "auth"  # 401: the token needs a refresh
    REAUTH = "reauth"  # the owner must run Connect again
    BILLING = "billing"  # Smartcar's monthly quota is used up
    BLOCKED = "blocked"  # needs a human (owner account, our request refused); long pause


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    billed: int
    message: str = ""
    retry_after_s: float | None = None
    unsupported: frozenset[DataKind] = frozenset()
    item_errors: dict[DataKind, SmartcarError] = field(default_factory=dict)
    errors: tuple[SmartcarError, ...] = ()  # every error behind the verdict


class Streaks:
    """Consecutive failures since the last read, counted per failure kind."""

    def __init__(self) -> None:
        self._counts: dict[Verdict, int] = {}

    def failed(self, verdict: Verdict) -> int:
        """Count one more failure of this kind; returns its streak."""
        self._counts[verdict] = self._counts.get(verdict, 0) + 1
        return self._counts[verdict]

    def of(self, verdict: Verdict) -> int:
        return self._counts.get(verdict, 0)

    def reset(self) -> None:
        self._counts.clear()


def describe(error: SmartcarError) -> str:
    if isinstance(error, SmartcarApiError):
        label = f"{error.type}:{error.code}" if error.code else error.type
        return f"{label} ({error.status})"
    return f"{type(error).__name__}: {error}"


def _judge(error: SmartcarError) -> Verdict:
    if isinstance(error, AuthenticationError):
        return Verdict.AUTH
    if isinstance(error, SmartcarApiError) and error.needs_reauthentication:
        return Verdict.REAUTH
    if isinstance(error, RateLimitError):
        return Verdict.RATE_LIMITED
    if isinstance(error, BillingError):
        return Verdict.BILLING
    if isinstance(error, VehicleStateError):
        return Verdict.ASLEEP if error.code in _SLEEPY_CODES else Verdict.TRANSIENT
    if isinstance(error, SmartcarApiError) and error.status < 500:
        return Verdict.BLOCKED
    return Verdict.TRANSIENT  # 5xx, timeouts, transport and protocol errors


#: Most urgent first: when items disagree, the first verdict found here wins.
_PRECEDENCE = (
    Verdict.AUTH,
    Verdict.REAUTH,
    Verdict.BILLING,
    Verdict.RATE_LIMITED,
    Verdict.TRANSIENT,
    Verdict.ASLEEP,
    Verdict.BLOCKED,
)


def _retry_after(errors: list[SmartcarError]) -> float | None:
    waits = [
        float(e.retry_after if e.retry_after is not None else DEFAULT_RETRY_AFTER_S)
        for e in errors
        if isinstance(e, RateLimitError)
    ]
    return max(waits) if waits else None


def app_wide_limit(outcome: Outcome) -> SmartcarError | None:
    """The ``RATE_LIMIT:SMARTCAR_API`` error in this outcome, if any (whole or per item)."""
    return next((e for e in outcome.errors if is_app_wide(e)), None)


def classify_error(error: SmartcarError) -> Outcome:
    """A whole request failed."""
    verdict = _judge(error)
    unbilled = verdict in (Verdict.AUTH, Verdict.RATE_LIMITED, Verdict.BILLING)
    billed = 0 if unbilled or not isinstance(error, SmartcarApiError) else 1
    return Outcome(verdict, billed, describe(error), _retry_after([error]), errors=(error,))


def classify_snapshot(snapshot: VehicleSnapshot, asked: int) -> Outcome:
    """A batch answered; ``asked`` is how many paths it carried (all are billed)."""
    unsupported = frozenset(
        kind
        for kind, error in snapshot.errors.items()
        if isinstance(error, CompatibilityError | PermissionDeniedError)
    )
    failed = {k: e for k, e in snapshot.errors.items() if k not in unsupported}
    denied = sorted(
        k.value for k in unsupported if isinstance(snapshot.errors[k], PermissionDeniedError)
    )
    notes = [f"{k.value}: {describe(e)}" for k, e in sorted(failed.items(), key=_by_path)]
    if denied:
        notes.append(f"not granted: {', '.join(denied)}")
    message = "; ".join(notes)
    retry_after = _retry_after(list(failed.values()))
    read_something = len(snapshot.errors) < asked
    if read_something:
        verdict = Verdict.PARTIAL if failed else Verdict.SUCCESS
        return Outcome(
            verdict, asked, message, retry_after, unsupported, failed, tuple(failed.values())
        )
    verdicts = {_judge(e) for e in failed.values()}
    verdict = next((v for v in _PRECEDENCE if v in verdicts), Verdict.BLOCKED)
    if verdict is Verdict.ASLEEP and verdicts != {Verdict.ASLEEP}:
        verdict = Verdict.TRANSIENT
    return Outcome(
        verdict,
        asked,
        message or "nothing readable",
        retry_after,
        unsupported,
        failed,
        tuple(failed.values()),
    )


def _by_path(item: tuple[DataKind, SmartcarError]) -> str:
    return item[0].value


def backoff_s(failures: int, rng: random.Random) -> float:
    """Exponential from 30 s to 15 minutes, with ±20 % jitter."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1))
    return base * rng.uniform(0.8, 1.2)


def asleep_s(failures: int, interval_s: float) -> float:
    return min(ASLEEP_CAP_S, max(interval_s, ASLEEP_MIN_S) * 2 ** max(0, failures - 1))


def month_key(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def next_month_start(now: float) -> float:
    t = datetime.fromtimestamp(now, UTC)
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def paced_interval_s(
    budget: int, used: int, cost: int, now: float, reserve: float = MANUAL_RESERVE
) -> float | None:
    """Seconds between scheduled polls so the budget lasts the month; None = none left."""
    usable = int(budget * (1.0 - reserve)) - used
    polls_left = usable // max(1, cost)
    if polls_left <= 0:
        return None
    return max(0.0, next_month_start(now) - now) / polls_left


def manual_allowed(budget: int, used: int, cost: int) -> bool:
    """ "Refresh now" may spend the reserve, never more than the budget."""
    return used + cost <= budget
