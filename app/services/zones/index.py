"""Which zones contain a position, with a GPS margin, fast (pure; no database, no Qt).

GPS jitter is a few metres in the open and tens of metres between tall buildings, so a
vehicle parked on a zone's border would enter and leave it every report. The index
therefore answers with hysteresis, from what the vehicle was in before:

* to ENTER a zone a position must be inside the zone shrunk by the margin (clearly in);
* to LEAVE it a position must be outside the zone grown by the margin (clearly out);
* in between (a band of twice the margin around the border) the vehicle stays where it
  was, so jitter smaller than the margin never raises anything new.

A vehicle seen for the first time (no stored presence) is placed by the zone's own
outline: there is no earlier state to keep. A zone narrower than twice the margin has
nothing left when shrunk; its own outline is then what a vehicle must be inside to enter.

The margin is metres (``[zones] gps_margin_m``). Each zone is projected to a local flat
plane around its own centre (equirectangular, metres per degree of latitude and of
longitude at that latitude, WGS84), buffered there and projected back, so 15 m is 15 m in
Oslo and in Singapore; within the few kilometres of a city zone the projection's error is
far below GPS error. Zones crossing the antimeridian are not supported.

The grown polygons sit in a shapely STRtree; a batch of positions is one vectorised tree
query plus one vectorised point-in-polygon test over the candidates (prepared polygons),
which is what makes 10,000 vehicles against 500 zones cheap (tests/benchmarks/bench_zones).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from app.models.zones import ZoneShape


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) at ``lat`` on the WGS84 ellipsoid."""
    phi = math.radians(lat)
    per_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    per_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return max(per_lon, 1e-6), per_lat


@dataclass(frozen=True)
class _Local:
    """A flat plane in metres around (lon0, lat0)."""

    lon0: float
    lat0: float

    def to_metres(self, geometry: BaseGeometry) -> BaseGeometry:
        kx, ky = metres_per_degree(self.lat0)
        return shapely.transform(geometry, lambda c: (c - (self.lon0, self.lat0)) * (kx, ky))

    def to_degrees(self, geometry: BaseGeometry) -> BaseGeometry:
        kx, ky = metres_per_degree(self.lat0)
        return shapely.transform(geometry, lambda c: c / (kx, ky) + (self.lon0, self.lat0))


def buffered(shape: ZoneShape, metres: float) -> BaseGeometry:
    """The zone grown (``metres`` > 0) or shrunk (< 0) by ``metres``, in degrees."""
    polygon = shape.polygon()
    centre = polygon.centroid
    local = _Local(centre.x, centre.y)
    return local.to_degrees(local.to_metres(polygon).buffer(metres))


def distance_m(shape: ZoneShape, lon: float, lat: float) -> float:
    """Metres from (lon, lat) to the zone (0 inside), on a flat plane around the point."""
    local = _Local(lon, lat)
    return float(local.to_metres(shape.polygon()).distance(Point(0.0, 0.0)))


class ZoneIndex:
    """Zones ready to be asked about positions; rebuilt (cheaply) when the zones change."""

    def __init__(self, zones: Iterable[ZoneShape], margin_m: float) -> None:
        self.margin_m = margin_m
        self.zones: dict[int, ZoneShape] = {z.id: z for z in zones if z.id is not None}
        self._ids = np.array(list(self.zones), dtype=np.int64)
        shapes = list(self.zones.values())
        own = [z.polygon() for z in shapes]
        grown, shrunk = list(own), list(own)
        if margin_m > 0:
            grown = [buffered(z, margin_m) for z in shapes]
            inner = [buffered(z, -margin_m) for z in shapes]
            shrunk = [p if i.is_empty else i for p, i in zip(own, inner, strict=True)]
        self._own = np.array(own, dtype=object)
        self._grown = np.array(grown, dtype=object)
        self._shrunk = np.array(shrunk, dtype=object)
        for geometries in (self._own, self._grown, self._shrunk):
            shapely.prepare(geometries)
        self._tree = shapely.STRtree(self._grown)

    def __len__(self) -> int:
        return len(self.zones)

    def step_many(
        self,
        lons: Sequence[float],
        lats: Sequence[float],
        before: Sequence[frozenset[int] | None],
    ) -> list[frozenset[int]]:
        """The zones each position is in now, given what it was in ``before`` (None: not
        known yet); see the module docstring for the margin's hysteresis."""
        count = len(lons)
        if not self.zones or count == 0:
            return [frozenset() for _ in range(count)]
        x = np.asarray(lons, dtype=float)
        y = np.asarray(lats, dtype=float)
        point_at, zone_at = self._tree.query(shapely.points(x, y), predicate="intersects")
        zone_ids = self._ids[zone_at]
        pairs = len(point_at)
        earlier = [before[p] for p in point_at.tolist()]
        unknown = np.fromiter((b is None for b in earlier), bool, pairs)
        was_in = np.fromiter(
            (b is not None and z in b for b, z in zip(earlier, zone_ids.tolist(), strict=True)),
            bool,
            pairs,
        )
        # Kept: was in and still inside the grown zone (every candidate is). Entered: was
        # not in and inside the shrunk zone; first seen: inside the zone's own outline.
        fresh = ~was_in & ~unknown
        inside = was_in.copy()
        if fresh.any():
            inside[fresh] = shapely.intersects_xy(
                self._shrunk[zone_at[fresh]], x[point_at[fresh]], y[point_at[fresh]]
            )
        if unknown.any():
            inside[unknown] = shapely.intersects_xy(
                self._own[zone_at[unknown]], x[point_at[unknown]], y[point_at[unknown]]
            )
        now: list[set[int]] = [set() for _ in range(count)]
        for p, z in zip(point_at[inside].tolist(), zone_ids[inside].tolist(), strict=True):
            now[p].add(z)
        return [frozenset(zones) for zones in now]

    def step(self, lon: float, lat: float, before: frozenset[int] | None) -> frozenset[int]:
        """:meth:`step_many` for one position."""
        return self.step_many([lon], [lat], [before])[0]

    def containing(self, lon: float, lat: float, kind: str | None = None) -> list[ZoneShape]:
        """The zones (of ``kind``) whose outline grown by the margin contains the position:
        the benefit of the doubt a one-off check (a check-out) gives to GPS error."""
        if not self.zones:
            return []
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        found = [self.zones[int(self._ids[i])] for i in hits.tolist()]
        return [z for z in found if kind is None or z.kind == kind]

    def nearest(self, lon: float, lat: float, kind: str) -> tuple[ZoneShape, float] | None:
        """The zone of ``kind`` closest to the position and its distance in metres."""
        best: tuple[ZoneShape, float] | None = None
        for zone in self.zones.values():
            if zone.kind != kind:
                continue
            metres = distance_m(zone, lon, lat)
            if best is None or metres < best[1]:
                best = (zone, metres)
        return best

    def of_kind(self, kind: str) -> list[ZoneShape]:
        return [z for z in self.zones.values() if z.kind == kind]
