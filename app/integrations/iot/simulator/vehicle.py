"""The simulated vehicle itself: where it is, how full its battery is, whether it is locked.

Kept apart from the wire protocols so every simulated device, whatever it speaks, moves
and drains the same way and a test can reason about the state behind the frames.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Berlin Mitte: the default city centre the fleet roams around.
CITY_CENTRE = (52.5200, 13.4050)
_KM_PER_DEG_LAT = 111.32
CHARGE_FROM_PCT = 20.0  # a locked vehicle below this goes on the charger
CHARGED_PCT = 95.0  # and comes off at this
CHARGE_PCT_PER_S = 0.05  # 3 % a minute: a scooter charger, quick enough to watch in a demo


@dataclass(slots=True)
class SimVehicle:
    """A scooter or e-bike: unlocked vehicles ride around, locked ones stand still.

    A locked vehicle whose battery runs low is put on a charger (the field team docks
    it) and charges until nearly full or until it is unlocked, so the demo shows
    Charging scooters and e-bikes; some start the day on the charger.
    """

    device_id: str
    kind: str  # "scooter" | "ebike"
    latitude: float
    longitude: float
    battery_pct: float = 100.0
    locked: bool = True
    speed_kmh: float = 0.0
    course_deg: float = 0.0
    odometer_km: float = 0.0
    charging: bool = False
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def spawn(
        cls,
        device_id: str,
        kind: str,
        rng: random.Random,
        centre: tuple[float, float] = CITY_CENTRE,
        radius_km: float = 2.0,
    ) -> SimVehicle:
        """A vehicle parked at a random spot within ``radius_km`` of ``centre``."""
        distance = radius_km * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        lat = centre[0] + distance * math.cos(bearing) / _KM_PER_DEG_LAT
        lon = centre[1] + distance * math.sin(bearing) / (
            _KM_PER_DEG_LAT * math.cos(math.radians(centre[0]))
        )
        vehicle = cls(
            device_id,
            kind,
            lat,
            lon,
            battery_pct=rng.uniform(40, 100),
            locked=rng.random() < 0.7,
            rng=rng,
        )
        if vehicle.locked and rng.random() < 0.15:  # on the charger since the night
            vehicle.battery_pct = rng.uniform(CHARGE_FROM_PCT, 80)
            vehicle.charging = True
        return vehicle

    def step(self, seconds: float) -> None:
        """Advance the vehicle by ``seconds``: ride if unlocked, and drain the battery.

        Simulated time runs faster than wall time in tests; movement is computed from
        ``seconds`` so positions stay plausible whatever the report interval.
        """
        if not self.locked:
            self.charging = False  # unplugged to ride
        elif self.battery_pct < CHARGE_FROM_PCT:
            self.charging = True  # docked by the field team
        if self.charging:
            self.speed_kmh = 0.0
            self.battery_pct = min(100.0, self.battery_pct + CHARGE_PCT_PER_S * seconds)
            self.charging = self.battery_pct < CHARGED_PCT
            return
        if self.locked or self.battery_pct <= 0:
            self.speed_kmh = 0.0
            self.battery_pct = max(0.0, self.battery_pct - 0.0005 * seconds)  # IoT standby
            return
        top = 25.0 if self.kind == "scooter" else 22.0
        self.speed_kmh = max(0.0, min(top, self.speed_kmh + self.rng.uniform(-4, 5)))
        self.course_deg = (self.course_deg + self.rng.uniform(-30, 30)) % 360
        km = self.speed_kmh * seconds / 3600
        self.odometer_km += km
        rad = math.radians(self.course_deg)
        self.latitude += km * math.cos(rad) / _KM_PER_DEG_LAT
        self.longitude += (
            km * math.sin(rad) / (_KM_PER_DEG_LAT * math.cos(math.radians(self.latitude)))
        )
        self.battery_pct = max(0.0, self.battery_pct - km * 2.5 - 0.002 * seconds)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC).replace(microsecond=0)
