"""Zone checks: 10,000 vehicles reporting against 500 zones (issue #19).

The zones: one service area over a 20 km × 20 km city and 499 parking, no-parking and
slow zones of 8 to 24 corners and 50 to 600 m across, scattered over it (some overlap).
The vehicles: 10,000 positions spread the same way, each round moved by up to 30 m (a
report interval of scooters in town), checked with their presence from the round before,
as the zone worker does after a telemetry commit. Measured: position checks per second
through ``ZoneIndex.step_many`` (batches of a commit's size and of the whole fleet) and
one at a time through ``ZoneIndex.step``; plus the index build time (a zone edit).

Target: ≥ 20,000 position checks/s with the index.
"""

from __future__ import annotations

import math
import random
import time

from app.models.zones import ZoneShape
from tests.benchmarks.harness import Result

TARGET = 20_000.0
VEHICLES = 10_000
ZONES = 500
DURATION_S = 3.0
LAT0, LON0 = 52.40, 13.20
SPAN = 0.18  # degrees of latitude, about 20 km; longitude scaled to the same size


def _zones(rng: random.Random) -> list[ZoneShape]:
    per_lon = math.cos(math.radians(LAT0 + SPAN / 2))
    city = [(LON0, LAT0), (LON0 + SPAN / per_lon, LAT0), (LON0 + SPAN / per_lon, LAT0 + SPAN)]
    zones = [ZoneShape(1, "City", "service_area", [*city, (LON0, LAT0 + SPAN)])]
    kinds = ("parking", "no_parking", "slow")
    for zone_id in range(2, ZONES + 1):
        lon = LON0 + rng.random() * SPAN / per_lon
        lat = LAT0 + rng.random() * SPAN
        radius = rng.uniform(25, 300) / 111_000
        corners = rng.randint(8, 24)
        ring = [
            (
                lon + radius * math.cos(2 * math.pi * i / corners) / per_lon,
                lat + radius * math.sin(2 * math.pi * i / corners),
            )
            for i in range(corners)
        ]
        zones.append(ZoneShape(zone_id, f"Z{zone_id}", kinds[zone_id % 3], ring))
    return zones


def run() -> list[Result]:
    from app.services.zones.index import ZoneIndex

    rng = random.Random(19)
    zones = _zones(rng)
    start = time.perf_counter()
    index = ZoneIndex(zones, margin_m=15.0)
    build_s = time.perf_counter() - start
    per_lon = math.cos(math.radians(LAT0 + SPAN / 2))
    lons = [LON0 + rng.random() * SPAN / per_lon for _ in range(VEHICLES)]
    lats = [LAT0 + rng.random() * SPAN for _ in range(VEHICLES)]
    presence = index.step_many(lons, lats, [None] * VEHICLES)
    inside = sum(len(p) > 1 for p in presence)
    print(f"bench_zones: {VEHICLES} vehicles, {len(index)} zones, {inside} in a small zone")

    def move() -> None:
        step = 30 / 111_000
        for i in range(VEHICLES):
            lons[i] += rng.uniform(-step, step) / per_lon
            lats[i] += rng.uniform(-step, step)

    results = [Result("bench_zones", "index build (500 zones)", build_s * 1000, "ms")]
    for label, batch in (("batch of 500 (a commit)", 500), ("batch of 10,000", VEHICLES)):
        checks, elapsed = 0, 0.0
        while elapsed < DURATION_S:
            move()
            begin = time.perf_counter()
            for first in range(0, VEHICLES, batch):
                part = slice(first, first + batch)
                presence[part] = index.step_many(lons[part], lats[part], presence[part])
            elapsed += time.perf_counter() - begin
            checks += VEHICLES
        rate = checks / elapsed
        results.append(
            Result(
                "bench_zones",
                f"position checks/s, {label}",
                rate,
                "checks/s",
                f">= {TARGET:,.0f}",
                rate >= TARGET,
            )
        )
    checks, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < DURATION_S:
        i = checks % VEHICLES
        presence[i] = index.step(lons[i], lats[i], presence[i])
        checks += 1
    rate = checks / (time.perf_counter() - begin)
    results.append(Result("bench_zones", "position checks/s, one at a time", rate, "checks/s"))
    return results
