"""v2.0 vehicle data as the simulator computes it: one function per GET path.

The same table serves direct GETs and ``/batch`` items, so both always agree. Values are held
metric and converted here when the caller asked for ``SC-Unit-System: imperial``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.integrations.smartcar.simulator.state import BATTERY_KWH, DOORS, TANK_L, SimVehicle
from app.integrations.smartcar.units import KM_PER_MILE, KPA_PER_PSI, L_PER_GALLON


@dataclass(frozen=True)
class ReadError(Exception):
    """A catalogued error for one read; the caller renders it as a response or batch item."""

    type: str
    code: str | None = None


@dataclass(frozen=True)
class Units:
    imperial: bool

    def km(self, value: float) -> float:
        return round(value / KM_PER_MILE if self.imperial else value, 2)

    def liters(self, value: float) -> float:
        return round(value / L_PER_GALLON if self.imperial else value, 2)

    def kpa(self, value: float) -> float:
        return round(value / KPA_PER_PSI if self.imperial else value, 1)


def _attributes(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"id": v.vehicle_id, "make": v.spec.make, "model": v.spec.model, "year": v.spec.year}


def _vin(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"vin": v.spec.vin}


def _location(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"latitude": round(v.lat, 6), "longitude": round(v.lon, 6)}


def _odometer(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"distance": u.km(v.odometer_km)}


def _fuel(v: SimVehicle, u: Units) -> dict[str, Any]:
    liters = v.fuel_fraction * TANK_L[v.spec.powertrain]
    return {
        "amountRemaining": u.liters(liters),
        "percentRemaining": round(v.fuel_fraction, 3),
        "range": u.km(v.fuel_range_km()),
    }


def _battery(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"percentRemaining": round(v.battery_fraction, 3), "range": u.km(v.battery_range_km())}


def _capacity(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"capacity": BATTERY_KWH[v.spec.powertrain]}


def _charge(v: SimVehicle, u: Units) -> dict[str, Any]:
    if v.activity == "charging":
        state = "FULLY_CHARGED" if v.battery_fraction >= v.charge_limit - 1e-6 else "CHARGING"
    else:
        state = "NOT_CHARGING"
    return {"isPluggedIn": v.plugged_in, "state": state}


def _charge_limit(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"limit": v.charge_limit}


def _security(v: SimVehicle, u: Units) -> dict[str, Any]:
    def items(names: tuple[str, ...], open_: set[str]) -> list[dict[str, str]]:
        return [{"type": n, "status": "OPEN" if n in open_ else "CLOSED"} for n in names]

    port = (
        []
        if not v.has_battery
        else items(("chargingPort",), {"chargingPort"} if v.plugged_in else set())
    )
    return {
        "isLocked": v.locked,
        "doors": items(DOORS, v.open_doors),
        "windows": items(DOORS, set()),
        "sunroof": items(("sunroof",), set()),
        "storage": items(("rear", "front"), v.open_doors & {"rear", "front"}),
        "chargingPort": port,
    }


def _tires(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {side: u.kpa(kpa) for side, kpa in v.tires_kpa.items()}


def _oil(v: SimVehicle, u: Units) -> dict[str, Any]:
    return {"lifeRemaining": round(v.oil_life, 3)}


@dataclass(frozen=True)
class ReadEndpoint:
    scope: str
    produce: Callable[[SimVehicle, Units], dict[str, Any]]
    needs: str | None = None  # "fuel" / "battery": capability the powertrain must have
    static: bool = False  # answered from Smartcar's records, not the car (never asleep/faulted)
    has_units: bool = False


#: Keyed by the path below ``/vehicles/{id}`` ("" = attributes), without leading slash.
READS: dict[str, ReadEndpoint] = {
    "": ReadEndpoint("read_vehicle_info", _attributes, static=True),
    "vin": ReadEndpoint("read_vin", _vin, static=True),
    "location": ReadEndpoint("read_location", _location),
    "odometer": ReadEndpoint("read_odometer", _odometer, has_units=True),
    "fuel": ReadEndpoint("read_fuel", _fuel, needs="fuel", has_units=True),
    "battery": ReadEndpoint("read_battery", _battery, needs="battery", has_units=True),
    "battery/capacity": ReadEndpoint("read_battery", _capacity, needs="battery"),
    "charge": ReadEndpoint("read_charge", _charge, needs="battery"),
    "charge/limit": ReadEndpoint("read_charge", _charge_limit, needs="battery"),
    "security": ReadEndpoint("read_security", _security),
    "tires/pressure": ReadEndpoint("read_tires", _tires, has_units=True),
    "engine/oil": ReadEndpoint("read_engine_oil", _oil, needs="fuel"),
}

ENDPOINTS_BY_SCOPE: dict[str, list[str]] = {}
for _path, _ep in READS.items():
    ENDPOINTS_BY_SCOPE.setdefault(_ep.scope, []).append(f"/{_path}")
ENDPOINTS_BY_SCOPE.update(
    control_security=["/security"], control_charge=["/charge"], read_user_profile=["/user"]
)


def capable(powertrain: str, endpoint: str) -> bool:
    """Whether a powertrain supports an endpoint (``/fuel`` on a BEV does not)."""
    read = READS.get(endpoint.strip("/"))
    needs = read.needs if read else ("battery" if endpoint == "/charge" else None)
    if needs == "fuel":
        return powertrain in ("ice", "phev")
    if needs == "battery":
        return powertrain in ("bev", "phev")
    return True


def read(
    vehicle: SimVehicle, path: str, scopes: frozenset[str], units: Units, now: float
) -> dict[str, Any]:
    """The body for one read, after permission, capability and vehicle-state checks."""
    endpoint = READS[path]
    if endpoint.scope not in scopes:
        raise ReadError("PERMISSION")
    if not capable(vehicle.spec.powertrain, path):
        raise ReadError("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    vehicle.advance(now)
    if vehicle.asleep and not endpoint.static:
        raise ReadError("VEHICLE_STATE", "ASLEEP")
    return endpoint.produce(vehicle, units)
