"""Typed, validated results of Smartcar calls, always in metric units.

Vehicle data is wrapped in :class:`Reading` so the payload stays independent of how it was
fetched (v2 endpoint, v2 batch item, later v3 signals) while the response metadata
(``SC-Data-Age``, ``SC-Fetched-At``, ``SC-Request-Id``) travels with it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from app.integrations.smartcar.errors import SmartcarError

T = TypeVar("T")


class DataKind(enum.Enum):
    """The vehicle data the product reads; values double as v2 paths."""

    ATTRIBUTES = "/"
    VIN = "/vin"
    LOCATION = "/location"
    ODOMETER = "/odometer"
    FUEL = "/fuel"
    BATTERY = "/battery"
    CHARGE = "/charge"
    LOCK_STATUS = "/security"
    TIRE_PRESSURE = "/tires/pressure"
    ENGINE_OIL = "/engine/oil"


@dataclass(frozen=True)
class ResponseMeta:
    request_id: str | None = None
    data_age: datetime | None = None
    fetched_at: datetime | None = None
    unit_system: str | None = None


@dataclass(frozen=True)
class Reading(Generic[T]):
    value: T
    meta: ResponseMeta


@dataclass(frozen=True)
class User:
    id: str


@dataclass(frozen=True)
class VehiclePage:
    vehicle_ids: tuple[str, ...]
    count: int
    offset: int


@dataclass(frozen=True)
class Attributes:
    id: str
    make: str
    model: str
    year: int


@dataclass(frozen=True)
class Vin:
    vin: str


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Odometer:
    distance_km: float


@dataclass(frozen=True)
class Fuel:
    """All three may be None: many (notably EU) cars report only some of them."""

    amount_liters: float | None
    percent_remaining: float | None
    range_km: float | None


@dataclass(frozen=True)
class Battery:
    percent_remaining: float
    range_km: float | None


@dataclass(frozen=True)
class Charge:
    is_plugged_in: bool
    state: str  # CHARGING, FULLY_CHARGED or NOT_CHARGING

    @property
    def charging(self) -> bool | None:
        """Energy flowing in now; None for a state Smartcar may add later (not guessed).
        Plugged in and FULLY_CHARGED is not charging: the car is ready to go."""
        if self.state == "CHARGING":
            return True
        return False if self.state in ("FULLY_CHARGED", "NOT_CHARGING") else None


@dataclass(frozen=True)
class Opening:
    """A door, window, sunroof, storage lid or charging port: ``OPEN``/``CLOSED``/``UNKNOWN``."""

    type: str
    status: str


@dataclass(frozen=True)
class LockStatus:
    is_locked: bool
    doors: tuple[Opening, ...]
    windows: tuple[Opening, ...]
    sunroof: tuple[Opening, ...]
    storage: tuple[Opening, ...]
    charging_port: tuple[Opening, ...]

    @property
    def any_open(self) -> bool:
        groups = (self.doors, self.windows, self.sunroof, self.storage, self.charging_port)
        return any(o.status == "OPEN" for group in groups for o in group)


@dataclass(frozen=True)
class TirePressure:
    front_left_kpa: float | None
    front_right_kpa: float | None
    back_left_kpa: float | None
    back_right_kpa: float | None


@dataclass(frozen=True)
class EngineOil:
    life_remaining: float


@dataclass(frozen=True)
class Permissions:
    permissions: tuple[str, ...]
    count: int
    offset: int


@dataclass(frozen=True)
class ActionResult:
    status: str
    message: str | None


@dataclass(frozen=True)
class Capability:
    capable: bool
    endpoint: str
    permission: str
    reason: str | None


@dataclass(frozen=True)
class Compatibility:
    compatible: bool
    reason: str | None
    capabilities: tuple[Capability, ...]


@dataclass(frozen=True)
class BatchItem:
    """One sub-response of a batch: a reading or the error for that path alone."""

    kind: DataKind
    reading: Reading[object] | None
    error: SmartcarError | None


@dataclass(frozen=True)
class BatchResult:
    request_id: str | None
    items: dict[DataKind, BatchItem]


@dataclass(frozen=True)
class VehicleSnapshot:
    """What one telemetry poll learnt about a car; absent values have an entry in ``errors``.

    An EV answers ``/fuel`` with ``COMPATIBILITY:VEHICLE_NOT_CAPABLE`` (and a combustion car
    ``/battery`` likewise); those expected gaps are in ``errors`` too, so callers decide.
    """

    vehicle_id: str
    request_id: str | None
    location: Location | None = None
    fuel: Fuel | None = None
    battery: Battery | None = None
    odometer: Odometer | None = None
    lock_status: LockStatus | None = None
    tire_pressure: TirePressure | None = None
    engine_oil: EngineOil | None = None
    charge: Charge | None = None
    errors: dict[DataKind, SmartcarError] = field(default_factory=dict)
    data_ages: dict[DataKind, datetime | None] = field(default_factory=dict)


#: The snapshot field each reading kind fills.
SNAPSHOT_FIELDS = {
    DataKind.LOCATION: "location",
    DataKind.FUEL: "fuel",
    DataKind.BATTERY: "battery",
    DataKind.ODOMETER: "odometer",
    DataKind.LOCK_STATUS: "lock_status",
    DataKind.TIRE_PRESSURE: "tire_pressure",
    DataKind.ENGINE_OIL: "engine_oil",
    DataKind.CHARGE: "charge",
}


def snapshot_from_batch(vehicle_id: str, result: BatchResult) -> VehicleSnapshot:
    """The snapshot of one batch, whichever API version read it: readings of snapshot
    kinds become values (with their data age), every item's error lands in ``errors``."""
    values: dict[str, Any] = {}
    errors: dict[DataKind, SmartcarError] = {}
    ages = {}
    for kind, item in result.items.items():
        if item.reading is not None and kind in SNAPSHOT_FIELDS:
            values[SNAPSHOT_FIELDS[kind]] = item.reading.value
            ages[kind] = item.reading.meta.data_age
        elif item.error is not None:
            errors[kind] = item.error
    return VehicleSnapshot(vehicle_id, result.request_id, errors=errors, data_ages=ages, **values)


@dataclass(frozen=True)
class V3Connection:
    """A V3 connection: which user granted which vehicle, and with what permissions."""

    id: str
    user_id: str
    vehicle_id: str
    permissions: tuple[str, ...]
    make: str
    model: str
    year: int | None
    powertrain: str | None


@dataclass(frozen=True)
class CommandExecution:
    """The ``command-execution`` resource a V3 command answers (not the vehicle's state)."""

    id: str
    command_type: str
    status: str  # SUCCESS, ERROR, PENDING, ...
    execution_mode: str | None


@dataclass(frozen=True)
class Webhook:
    id: str
    name: str
    callback_uri: str
    enabled: bool


@dataclass(frozen=True)
class Subscription:
    id: str
    webhook_id: str
    vehicle_id: str
    user_id: str | None
