"""What a connection's permissions and status mean for the operator, in plain words.

The product text says all eight permissions are needed for car sharing and a missing one
"can block the rental session flow"; so each permission is named with what it blocks, and a
car missing any of them is not rentable even while its connection is Active.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.integrations.smartcar.errors import (
    ConnectedServicesAccountError,
    PermissionDeniedError,
)
from app.integrations.smartcar.scopes import REQUIRED_SCOPES
from app.models.connections import ConnectionRecord
from app.models.enums import ConnectionStatus
from app.services.poll_policy import Outcome, Verdict, describe


@dataclass(frozen=True)
class PermissionInfo:
    label: str
    blocks: str


PERMISSIONS: dict[str, PermissionInfo] = {
    "read_vehicle_info": PermissionInfo("Read Vehicle Info", "make, model and year from the car"),
    "read_vin": PermissionInfo("Read VIN", "checking the car is the one on the record"),
    "read_location": PermissionInfo(
        "Read Location", "map position, rental start/end location and zone checks"
    ),
    "read_odometer": PermissionInfo("Read Odometer", "mileage tracking and mileage surcharges"),
    "read_battery": PermissionInfo("Read Battery", "charge level tracking (EVs and hybrids)"),
    "read_fuel": PermissionInfo("Read Fuel", "fuel tracking and fuel surcharges"),
    "read_security": PermissionInfo("Read Security", "lock and door status checks"),
    "control_security": PermissionInfo(
        "Control Security", "remote lock/unlock, so rentals cannot start or end"
    ),
}

#: Lower sorts first in the Connections view: what needs a person comes on top.
ATTENTION_ORDER = {
    ConnectionStatus.ERROR.value: 0,
    ConnectionStatus.EXPIRED.value: 1,
    ConnectionStatus.PENDING.value: 2,
    ConnectionStatus.ACTIVE.value: 4,
    ConnectionStatus.DISCONNECTED.value: 5,
}
_ACTIVE_BUT_INCOMPLETE = 3

RECONNECT_NEEDED = (
    "Reconnect needed: the Smartcar authorization has lapsed (no use for 60 days, or the "
    "refresh was refused). Press Reconnect and have the owner log in again."
)
REVOKED = (
    "The owner revoked access in the manufacturer's app (or Smartcar no longer accepts this "
    "connection). Reconnect to restore it."
)


#: Consecutive transient failures (5xx, no response, timeouts, garbage) before a connection
#: shows Error: one failed poll is weather, three in a row (at least ~3.5 minutes of
#: back-off) mean the car or its manufacturer cloud is not answering.
NOT_RESPONDING_AFTER = 3


@dataclass(frozen=True)
class PollHealth:
    """What a poll says about the connection: Active (reason from the permissions) or Error."""

    status: ConnectionStatus
    reason: str | None = None  # None: the Active reason for the granted permissions


def poll_health(outcome: Outcome, streak: int) -> PollHealth | None:
    """The connection's health after a poll, or None when the poll says nothing about it.

    A read (even partial) means data flows: Active. Account and permission refusals need a
    person, so they are Error at once. Transient failures are Error after
    :data:`NOT_RESPONDING_AFTER` in a row. Asleep cars, rate limits and the monthly quota
    are polling conditions the cron already shows; the connection itself is fine.
    """
    verdict = outcome.verdict
    if verdict in (Verdict.SUCCESS, Verdict.PARTIAL):
        return PollHealth(ConnectionStatus.ACTIVE)
    if verdict is Verdict.BLOCKED:
        if any(isinstance(e, ConnectedServicesAccountError) for e in outcome.errors):
            what = "the owner must sign in to the manufacturer's app and fix their account"
        elif any(isinstance(e, PermissionDeniedError) for e in outcome.errors):
            what = "a permission is missing; Reconnect and have the owner allow everything"
        else:
            what = "Smartcar refused the request; Reconnect, or ask the owner to check the car"
        return PollHealth(ConnectionStatus.ERROR, f"Owner action needed: {what} ({_why(outcome)}).")
    if verdict is Verdict.TRANSIENT and streak >= NOT_RESPONDING_AFTER:
        return PollHealth(
            ConnectionStatus.ERROR,
            f"Car not responding: the last {streak} polls failed ({_why(outcome)}). "
            "Polling goes on; this clears with the next good read.",
        )
    return None


def _why(outcome: Outcome) -> str:
    """One error for the status line (a batch repeats it per item; the panel's last error
    keeps them all)."""
    return describe(outcome.errors[0]) if outcome.errors else outcome.message


def missing_permissions(granted: Iterable[str]) -> list[str]:
    """The required permissions not granted, in the product's order."""
    have = set(granted)
    return [s for s in REQUIRED_SCOPES if s not in have]


def missing_text(granted: Iterable[str]) -> str:
    """'Missing: Control Security (blocks remote lock/unlock...); ...' or '' when complete."""
    missing = missing_permissions(granted)
    if not missing:
        return ""
    parts = [f"{PERMISSIONS[s].label} (blocks {PERMISSIONS[s].blocks})" for s in missing]
    return "Not rentable — missing permission: " + "; ".join(parts) + "."


def active_reason(granted: Iterable[str]) -> str:
    return missing_text(granted) or "Connected; data is flowing."


def rentable(record: ConnectionRecord) -> bool:
    """Active, with every required permission: the only state a car can be rented in."""
    return record.status == ConnectionStatus.ACTIVE.value and not missing_permissions(
        record.granted_scopes
    )


def attention_key(record: ConnectionRecord) -> tuple[int, str]:
    rank = ATTENTION_ORDER.get(record.status, 2)
    if record.status == ConnectionStatus.ACTIVE.value and not rentable(record):
        rank = _ACTIVE_BUT_INCOMPLETE
    return rank, record.fleet_number


def sort_for_attention(records: Iterable[ConnectionRecord]) -> list[ConnectionRecord]:
    return sorted(records, key=attention_key)
