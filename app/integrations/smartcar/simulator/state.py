"""Live state of one simulated vehicle, evolved lazily from the clock on every read.

No background task moves the cars: each read calls :meth:`SimVehicle.advance` with "now" and the
state catches up on the elapsed time. That keeps the simulator idle when nobody polls, makes it
safe inside any event loop (including the app's qasync loop) and lets tests drive time with an
injected clock instead of sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from app.integrations.smartcar.simulator.specs import VehicleSpec, vehicle_id_for

Activity = Literal["parked", "driving", "charging"]

TANK_L = {"ice": 50.0, "phev": 40.0}
BATTERY_KWH = {"bev": 60.0, "phev": 12.0}
FUEL_L_PER_KM = 0.07
ENERGY_KWH_PER_KM = 0.16
CHARGE_KW = 11.0
DRIVE_SPEED_KMH = 36.0
TIRE_NOMINAL_KPA = 240.0
TIRE_LEAK_KPA_PER_DAY = 0.4
OIL_LIFE_KM = 15_000.0
_KM_PER_DEG_LAT = 111.32
_RESERVE = 0.03  # a driving car stops when it reaches this fraction of fuel/charge

DOORS = ("frontLeft", "frontRight", "backLeft", "backRight")


@dataclass
class SimVehicle:
    """Spec plus mutable state; quantities are stored metric and converted at the API edge."""

    spec: VehicleSpec
    updated_at: float
    activity: Activity = "parked"
    asleep: bool = False
    locked: bool = True
    open_doors: set[str] = field(default_factory=set)
    lat: float = 0.0
    lon: float = 0.0
    heading_deg: float = 0.0
    odometer_km: float = 0.0
    fuel_fraction: float = 0.0
    battery_fraction: float = 0.0
    charge_limit: float = 0.9
    plugged_in: bool = False
    tires_kpa: dict[str, float] = field(default_factory=dict)
    oil_life: float = 1.0
    connected: bool = True
    moved_at: float = 0.0  # the last instant the car drove (0: not since the simulator started)

    @classmethod
    def from_spec(cls, spec: VehicleSpec, now: float) -> SimVehicle:
        """Initial state derived from the VIN hash so restarts give the same fleet picture."""
        h = int(vehicle_id_for(spec.vin).replace("-", ""), 16)
        vehicle = cls(spec=spec, updated_at=now, lat=spec.lat, lon=spec.lon)
        vehicle.odometer_km = spec.odometer_km
        vehicle.heading_deg = float(h % 360)
        vehicle.fuel_fraction = 0.25 + (h >> 9) % 70 / 100 if spec.powertrain != "bev" else 0.0
        vehicle.battery_fraction = 0.3 + (h >> 17) % 65 / 100 if spec.powertrain != "ice" else 0.0
        vehicle.oil_life = 0.2 + (h >> 25) % 80 / 100 if spec.powertrain != "bev" else 0.0
        vehicle.tires_kpa = {
            side: TIRE_NOMINAL_KPA - ((h >> (33 + 3 * i)) % 8) * 2.5
            for i, side in enumerate(("frontLeft", "frontRight", "backLeft", "backRight"))
        }
        vehicle.activity = "driving" if h % 10 < 3 else "parked"
        if vehicle.activity == "parked" and vehicle.has_battery and (h >> 45) % 4 == 0:
            # About a quarter of the parked plug-in cars stand on a charger, filling up to the
            # charge limit, so the console's Charging status shows up in a demo fleet.
            vehicle.activity, vehicle.plugged_in = "charging", True
        return vehicle

    @cached_property
    def vehicle_id(self) -> str:
        """Computed once: the spec never changes, and a UUIDv5 (SHA-1) on every read cost a
        tenth of the simulator's CPU per batch request."""
        return vehicle_id_for(self.spec.vin)

    @property
    def has_fuel(self) -> bool:
        return self.spec.powertrain in ("ice", "phev")

    @property
    def has_battery(self) -> bool:
        return self.spec.powertrain in ("bev", "phev")

    def set_activity(self, activity: Activity, now: float) -> None:
        """Switch activity after catching up, so the old activity applies up to ``now``."""
        self.advance(now)
        self.activity = activity
        self.plugged_in = activity == "charging"
        if activity == "driving":
            self.asleep = False

    def reported_at(self, now: float) -> float:
        """When the car last reported its state (``SC-Data-Age``, ``oemUpdatedAt``): now while
        it drives, else a stable few minutes ago per car, but never before it last moved. A
        car that has just parked reports the spot where it stopped, stamped no earlier than its
        last report while driving: otherwise that newer-stamped driving position would win
        over the final one in any store that keeps the newest value."""
        if self.activity == "driving":
            return now
        return max(self.moved_at, now - int(self.vehicle_id[:4], 16) % 300)

    def advance(self, now: float) -> None:
        """Catch the state up to ``now``: driving moves and burns energy, charging fills."""
        dt_h = max(0.0, now - self.updated_at) / 3600.0
        self.updated_at = max(self.updated_at, now)
        if dt_h == 0:
            return
        for side in self.tires_kpa:
            self.tires_kpa[side] = max(
                150.0, self.tires_kpa[side] - TIRE_LEAK_KPA_PER_DAY * dt_h / 24
            )
        if self.activity == "driving":
            self._drive(DRIVE_SPEED_KMH * dt_h)
        elif self.activity == "charging" and self.has_battery:
            gained = CHARGE_KW * dt_h / BATTERY_KWH[self.spec.powertrain]
            self.battery_fraction = min(self.charge_limit, self.battery_fraction + gained)

    def _drive(self, km: float) -> None:
        km = min(km, self._range_km_to_reserve())
        if km <= 0:
            self.activity = "parked"
            return
        on_fuel = km
        if self.has_battery:
            # A plug-in hybrid drives electric down to the reserve, then on fuel: one long
            # catch-up (hours between reads) must not take the battery below empty.
            pack = BATTERY_KWH[self.spec.powertrain]
            electric_km = max(0.0, self.battery_fraction - _RESERVE) * pack / ENERGY_KWH_PER_KM
            electric = km if not self.has_fuel else min(km, electric_km)
            self.battery_fraction -= electric * ENERGY_KWH_PER_KM / pack
            on_fuel = km - electric
        if self.has_fuel and on_fuel > 0:
            self.fuel_fraction -= on_fuel * FUEL_L_PER_KM / TANK_L[self.spec.powertrain]
        if self.has_fuel:
            self.oil_life = max(0.0, self.oil_life - km / OIL_LIFE_KM)
        self.odometer_km += km
        # Drive in slow circles so cars stay in their city: turn 2 degrees per km.
        rad = math.radians(self.heading_deg)
        self.lat += km * math.cos(rad) / _KM_PER_DEG_LAT
        self.lon += (
            km * math.sin(rad) / (_KM_PER_DEG_LAT * max(0.1, math.cos(math.radians(self.lat))))
        )
        self.heading_deg = (self.heading_deg + 2.0 * km) % 360
        self.moved_at = self.updated_at
        if self._range_km_to_reserve() <= 1e-9:
            self.activity = "parked"

    def _range_km_to_reserve(self) -> float:
        total = 0.0
        if self.has_fuel:
            tank = TANK_L[self.spec.powertrain]
            total += max(0.0, self.fuel_fraction - _RESERVE) * tank / FUEL_L_PER_KM
        if self.has_battery:
            pack = BATTERY_KWH[self.spec.powertrain]
            total += max(0.0, self.battery_fraction - _RESERVE) * pack / ENERGY_KWH_PER_KM
        return total

    def fuel_range_km(self) -> float:
        return self.fuel_fraction * TANK_L.get(self.spec.powertrain, 0.0) / FUEL_L_PER_KM

    def battery_range_km(self) -> float:
        return (
            self.battery_fraction * BATTERY_KWH.get(self.spec.powertrain, 0.0) / ENERGY_KWH_PER_KM
        )
