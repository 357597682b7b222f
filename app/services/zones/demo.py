"""Demo zones around the demo fleet's city, so a demo console shows zones at work: a
service area holding the whole fleet, three parking zones and one no-parking zone.

Seeded like the demo fleet, only when the database has no zones; an operator who deleted
them all gets them back at the next demo start, as with the fleet. The no-parking zone is
placed where no demo vehicle starts, so a fresh demo opens without zone alerts; vehicles
the simulators move into it raise one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from app.config import DemoSettings
from app.models.zones import ZoneKind, ZoneRepository, ZoneShape

#: (name, kind, east km, north km from the centre, radius km, corners)
DEMO_ZONES = (
    ("{city} service area", ZoneKind.SERVICE_AREA, 0.0, 0.0, 4.6, 24),
    ("Parking Centre", ZoneKind.PARKING, 0.0, 0.0, 0.35, 8),
    ("Parking East", ZoneKind.PARKING, 2.5, 0.0, 0.35, 6),
    ("Parking South-West", ZoneKind.PARKING, -2.0, -2.0, 0.3, 6),
    ("No parking: West park", ZoneKind.NO_PARKING, -3.0, 0.5, 0.3, 8),
)


def _ring(
    settings: DemoSettings, east_km: float, north_km: float, radius_km: float, corners: int
) -> list[tuple[float, float]]:
    """A regular polygon, km from the centre as demo_fleet places its vehicles."""
    per_lon = 111.0 * math.cos(math.radians(settings.center_lat))
    ring = []
    for i in range(corners):
        angle = 2 * math.pi * i / corners
        x = east_km + radius_km * math.cos(angle)
        y = north_km + radius_km * math.sin(angle)
        lon, lat = settings.center_lon + x / per_lon, settings.center_lat + y / 111.0
        ring.append((round(lon, 6), round(lat, 6)))
    return ring


def demo_zones(settings: DemoSettings) -> list[ZoneShape]:
    return [
        ZoneShape(None, name.format(city=settings.city), kind.value, _ring(settings, e, n, r, c))
        for name, kind, e, n, r, c in DEMO_ZONES
    ]


def seed_demo_zones(repository: ZoneRepository, settings: DemoSettings) -> int:
    """Store the demo zones when there are none yet; returns how many."""
    if repository.count() > 0:
        return 0
    now = datetime.now(UTC)
    zones = demo_zones(settings)
    for zone in zones:
        repository.add(zone, now)
    return len(zones)
