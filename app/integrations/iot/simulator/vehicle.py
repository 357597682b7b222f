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


@dataclass(slots=True)
class SimVehicle:
    """A scooter or e-bike: unlocked vehicles ride around, locked ones stand still."""

    device_id: str
    kind: str  # "scooter" | "ebike"
    latitude: float
    longitude: float
    battery_pct: float = 100.0
    locked: bool = True
    speed_kmh: float = 0.0
    course_deg: float = 0.0
    odometer_km: float = 0.0
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
        return cls(
            device_id,
            kind,
            lat,
            lon,
            battery_pct=rng.uniform(40, 100),
            locked=rng.random() < 0.7,
            rng=rng,
        )

    def step(self, seconds: float) -> None:
        """Advance the vehicle by ``seconds``: ride if unlocked, and drain the battery.

        Simulated time runs faster than wall time in tests; movement is computed from
        ``seconds`` so positions stay plausible whatever the report interval.
        """
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
