"""API V3 signals computed from the same :class:`SimVehicle` state the v2 reads use.

One table (:data:`SIGNALS`) serves ``GET /v3/vehicles/{id}/signals``, the single-signal
route and webhook payloads, so a value never differs between REST and a delivery. Values are
metric and percentages 0-100 (v2 used fractions): V3 bodies name their unit, and the
simulator ignores ``sc-unit-system`` for them.

Per-signal failures follow the real service: what the powertrain cannot report is a
``COMPATIBILITY``/``VEHICLE_NOT_CAPABLE`` entry, what the connection lacks the permission for
is ``PERMISSION`` (code ``UNKNOWN``), an asleep car answers ``VEHICLE_STATE``/``ASLEEP`` for
everything it would have to be woken for; HTTP stays 200 in each case.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.integrations.smartcar.simulator.errors import CATALOG
from app.integrations.smartcar.simulator.state import BATTERY_KWH, TANK_L, SimVehicle
from app.integrations.smartcar.simulator.v3_model import SignalRef

Body = dict[str, Any]

#: v2 door names on the V3 row/column grid (row 0 = front, column 0 = left).
GRID = {"frontLeft": (0, 0), "frontRight": (0, 1), "backLeft": (1, 0), "backRight": (1, 1)}
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def _direction(heading: float) -> str:
    return _COMPASS[int(((heading % 360) + 22.5) // 45) % 8]


def _charge_state(v: SimVehicle) -> str:
    if v.activity != "charging":
        return "NOT_CHARGING"
    return "FULLY_CHARGED" if v.battery_fraction >= v.charge_limit - 1e-6 else "CHARGING"


def _pct(fraction: float) -> float:
    return round(fraction * 100, 1)


def _grid(values: list[Body], **extra: Any) -> Body:
    return {"values": values, "rowCount": 2, "columnCount": 2, **extra}


def _location(v: SimVehicle) -> Body:
    return {
        "latitude": round(v.lat, 6),
        "longitude": round(v.lon, 6),
        "heading": round(v.heading_deg, 1),
        "direction": _direction(v.heading_deg),
        "locationType": "CURRENT",
    }


def _doors(v: SimVehicle) -> Body:
    return _grid(
        [
            {"row": r, "column": c, "isOpen": name in v.open_doors, "isLocked": v.locked}
            for name, (r, c) in GRID.items()
        ]
    )


def _windows(v: SimVehicle) -> Body:
    return _grid([{"row": r, "column": c, "isOpen": False} for r, c in GRID.values()])


def _tires(v: SimVehicle) -> Body:
    return _grid(
        [
            {"row": r, "column": c, "tirePressure": round(v.tires_kpa.get(name, 0.0), 1)}
            for name, (r, c) in GRID.items()
        ],
        unit="kPa",
    )


def _battery_range(v: SimVehicle) -> Body:
    return {
        "value": round(v.battery_range_km(), 1),
        "unit": "km",
        "type": "DEFAULT",
        "additionalValues": [],
    }


def _capacity(v: SimVehicle) -> Body:
    return {
        "capacity": BATTERY_KWH[v.spec.powertrain],
        "source": "SMARTCAR",
        "availableCapacities": [],
        "unit": "kWh",
    }


def _charge_limits(v: SimVehicle) -> Body:
    limit = round(v.charge_limit * 100)
    return {
        "values": [{"type": "GLOBAL", "limit": limit, "condition": None}],
        "activeLimit": limit,
        "unit": "percent",
    }


@dataclass(frozen=True)
class SignalSpec:
    """How one signal is produced and what it needs.

    ``scope`` None = no permission needed; ``needs`` "fuel"/"battery" = powertrain
    capability; ``awake`` False = answered even while the car sleeps (Smartcar's records or
    the connectivity status itself).
    """

    ref: SignalRef
    scope: str | None
    produce: Callable[[SimVehicle], Body]
    needs: str | None = None
    awake: bool = True


def _spec(
    code: str,
    name: str,
    group: str,
    scope: str | None,
    produce: Callable[[SimVehicle], Body],
    needs: str | None = None,
    awake: bool = True,
) -> SignalSpec:
    return SignalSpec(SignalRef(code, name, group), scope, produce, needs, awake)


_ICE, _TB = "InternalCombustionEngine", "TractionBattery"

SIGNALS: dict[str, SignalSpec] = {
    s.ref.code: s
    for s in (
        _spec(
            "location-preciselocation", "PreciseLocation", "Location", "read_location", _location
        ),
        _spec(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            "read_odometer",
            lambda v: {"value": round(v.odometer_km, 2), "unit": "km"},
        ),
        _spec(
            "internalcombustionengine-fuellevel",
            "FuelLevel",
            _ICE,
            "read_fuel",
            lambda v: {"value": _pct(v.fuel_fraction), "unit": "percent"},
            "fuel",
        ),
        _spec(
            "internalcombustionengine-amountremaining",
            "AmountRemaining",
            _ICE,
            "read_fuel",
            lambda v: {
                "value": round(v.fuel_fraction * TANK_L[v.spec.powertrain], 2),
                "unit": "liters",
            },
            "fuel",
        ),
        _spec(
            "internalcombustionengine-range",
            "Range",
            _ICE,
            "read_fuel",
            lambda v: {"value": round(v.fuel_range_km(), 1), "unit": "km"},
            "fuel",
        ),
        _spec(
            "internalcombustionengine-oillife",
            "OilLife",
            _ICE,
            "read_engine_oil",
            lambda v: {"value": _pct(v.oil_life), "unit": "percent"},
            "fuel",
        ),
        _spec(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            _TB,
            "read_battery",
            lambda v: {"value": _pct(v.battery_fraction), "unit": "percent"},
            "battery",
        ),
        _spec("tractionbattery-range", "Range", _TB, "read_battery", _battery_range, "battery"),
        _spec(
            "tractionbattery-nominalcapacity",
            "NominalCapacity",
            _TB,
            "read_battery",
            _capacity,
            "battery",
        ),
        _spec(
            "charge-ischarging",
            "IsCharging",
            "Charge",
            "read_charge",
            lambda v: {"value": _charge_state(v) == "CHARGING"},
            "battery",
        ),
        _spec(
            "charge-ischargingcableconnected",
            "IsChargingCableConnected",
            "Charge",
            "read_charge",
            lambda v: {"value": v.plugged_in},
            "battery",
        ),
        _spec(
            "charge-detailedchargingstatus",
            "DetailedChargingStatus",
            "Charge",
            "read_charge",
            lambda v: {"value": _charge_state(v)},
            "battery",
        ),
        _spec(
            "charge-chargelimits",
            "ChargeLimits",
            "Charge",
            "read_charge",
            _charge_limits,
            "battery",
        ),
        _spec(
            "closure-islocked",
            "IsLocked",
            "Closure",
            "read_security",
            lambda v: {"value": v.locked},
        ),
        _spec("closure-doors", "Doors", "Closure", "read_security", _doors),
        _spec("closure-windows", "Windows", "Closure", "read_security", _windows),
        _spec(
            "closure-reartrunk",
            "RearTrunk",
            "Closure",
            "read_security",
            lambda v: {"isOpen": "rear" in v.open_doors, "isLocked": v.locked},
        ),
        _spec(
            "closure-fronttrunk",
            "FrontTrunk",
            "Closure",
            "read_security",
            lambda v: {"isOpen": "front" in v.open_doors, "isLocked": v.locked},
        ),
        _spec(
            "closure-sunroof", "Sunroof", "Closure", "read_security", lambda v: {"isOpen": False}
        ),
        _spec("wheel-tires", "Tires", "Wheel", "read_tires", _tires),
        _spec(
            "vehicleidentification-vin",
            "VIN",
            "VehicleIdentification",
            "read_vin",
            lambda v: {"value": v.spec.vin},
            awake=False,
        ),
        _spec(
            "connectivitystatus-isonline",
            "IsOnline",
            "ConnectivityStatus",
            None,
            lambda v: {"value": v.connected and not v.asleep},
            awake=False,
        ),
        _spec(
            "connectivitystatus-isasleep",
            "IsAsleep",
            "ConnectivityStatus",
            None,
            lambda v: {"value": v.asleep},
            awake=False,
        ),
    )
}

#: What a webhook fires on when registration names no triggers.
DEFAULT_TRIGGERS = (
    "location-preciselocation",
    "tractionbattery-stateofcharge",
    "internalcombustionengine-fuellevel",
    "closure-islocked",
    "closure-doors",
    "charge-ischarging",
    "odometer-traveleddistance",
)

POWERTRAIN_TYPES = {"ice": "ICE", "bev": "BEV", "phev": "PHEV"}


@dataclass(frozen=True)
class SignalValue:
    """One evaluated signal: a body, or the catalogued (type, code) it failed with."""

    ref: SignalRef
    body: Body | None
    error: tuple[str, str] | None = None


def capable(powertrain: str, spec: SignalSpec) -> bool:
    if spec.needs == "fuel":
        return powertrain in ("ice", "phev")
    if spec.needs == "battery":
        return powertrain in ("bev", "phev")
    return True


def evaluate(vehicle: SimVehicle, code: str, scopes: frozenset[str]) -> SignalValue:
    """The signal as the car reports it now; the caller advances the vehicle first.

    Permission is checked before capability, as the v2 reads do, so an application without
    ``read_fuel`` learns about the permission, not about the powertrain.
    """
    spec = SIGNALS[code]
    if spec.scope is not None and spec.scope not in scopes:
        return SignalValue(spec.ref, None, ("PERMISSION", "UNKNOWN"))
    if not capable(vehicle.spec.powertrain, spec):
        return SignalValue(spec.ref, None, ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE"))
    if vehicle.asleep and spec.awake:
        return SignalValue(spec.ref, None, ("VEHICLE_STATE", "ASLEEP"))
    return SignalValue(spec.ref, spec.produce(vehicle))


_PERMISSION_DETAIL = (
    "Your application has insufficient permissions to access the requested resource. "
    "Please prompt the user to re-authenticate using Smartcar Connect."
)


def title_of(code: str | None, type_: str) -> str:
    """``VEHICLE_NOT_CAPABLE`` -> ``Vehicle Not Capable`` (the type when there is no code)."""
    return (code or type_).replace("_", " ").title()


def signal_error(type_: str, code: str) -> Body:
    """The REST form of a per-signal error (``status.error``)."""
    kind = CATALOG.get((type_, code)) or CATALOG.get((type_, None))
    detail = kind.description if kind is not None and type_ != "PERMISSION" else _PERMISSION_DETAIL
    resolution = "REAUTHENTICATE" if type_ == "PERMISSION" else "UNKNOWN_RESOLUTION_TYPE"
    return {
        "type": type_,
        "code": code,
        "title": title_of(code, type_),
        "detail": detail,
        "description": "Deprecated. Use detail",
        "resolution": {"type": resolution},
    }


def vehicle_attributes(vehicle: SimVehicle) -> Body:
    """make/model/year/mode/powertrainType, as every V3 answer and webhook carries them."""
    return {
        "make": vehicle.spec.make,
        "model": vehicle.spec.model,
        "year": vehicle.spec.year,
        "mode": "simulated",
        "powertrainType": POWERTRAIN_TYPES[vehicle.spec.powertrain],
    }


def oem_updated_at(vehicle: SimVehicle, now: float) -> float:
    """When the car last reported (the same time the v2 ``SC-Data-Age`` header shows); see
    :meth:`SimVehicle.reported_at`."""
    return vehicle.reported_at(now)


def rest_signal(value: SignalValue, self_url: str, now: float, oem_at: float) -> Body:
    """The JSON:API signal resource of ``GET .../signals``."""
    attributes: Body = {"code": value.ref.code, "name": value.ref.name, "group": value.ref.group}
    if value.error is None:
        attributes["status"] = {"value": "SUCCESS"}
        attributes["body"] = value.body
    else:
        attributes["status"] = {"value": "ERROR", "error": signal_error(*value.error)}
    return {
        "id": value.ref.code,
        "type": "signal",
        "attributes": attributes,
        "meta": {"retrievedAt": int(now * 1000), "oemUpdatedAt": int(oem_at * 1000)},
        "links": {"self": self_url},
    }


def flat_signal(value: SignalValue, now: float, oem_at: float) -> Body:
    """The webhook (payload 4.0) form: flat, failures trimmed to ``{type, code}``."""
    out: Body = {"code": value.ref.code, "name": value.ref.name, "group": value.ref.group}
    if value.error is None:
        out["body"] = value.body
        out["status"] = {"value": "SUCCESS"}
        out["meta"] = {"retrievedAt": int(now * 1000), "oemUpdatedAt": int(oem_at * 1000)}
    else:
        out["status"] = {
            "value": "ERROR",
            "error": {"type": value.error[0], "code": value.error[1]},
        }
    return out


_EARTH_M = 6_371_000.0


def moved_m(a: Body, b: Body) -> float:
    """Ground distance between two location bodies in metres (equirectangular; fine for the
    few-metre threshold that decides whether a location counts as changed)."""
    lat1, lat2 = math.radians(a["latitude"]), math.radians(b["latitude"])
    dlon = math.radians(b["longitude"] - a["longitude"]) * math.cos((lat1 + lat2) / 2)
    return math.hypot(lat2 - lat1, dlon) * _EARTH_M
