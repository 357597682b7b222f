"""What a connection's permissions and status mean for the operator, in plain words.

The product text says all eight permissions are needed for car sharing and a missing one
"can block the rental session flow"; so each permission is named with what it blocks, and a
car missing any of them is not rentable even while its connection is Active.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.integrations.smartcar.scopes import REQUIRED_SCOPES
from app.models.connections import ConnectionRecord
from app.models.enums import ConnectionStatus


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
