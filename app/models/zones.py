"""Zones (issue #19): the shape the map and the services share, its validation, and the
``zone``, ``zone_presence`` and ``zone_event`` tables.

A zone is a polygon of [lon, lat] points (WGS84, the first point not repeated). Nothing
that is not a usable polygon is stored: :func:`validated` refuses an empty name, an
unknown kind, coordinates off the globe, fewer than three distinct points, an outline
without area and one that crosses itself, each with a reason an operator can act on
(:class:`ZoneInvalid`), because a broken polygon would silently decide rentals and alerts.

Blocking; call through ``Database.run``.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, select

from app.models.database import Database
from app.models.orm import Vehicle, VehicleState, Zone, ZoneEvent, ZonePresence


class ZoneKind(enum.StrEnum):
    SERVICE_AREA = "service_area"
    PARKING = "parking"
    NO_PARKING = "no_parking"
    SLOW = "slow"


ZONE_LABELS = {
    ZoneKind.SERVICE_AREA: "Service area",
    ZoneKind.PARKING: "Parking",
    ZoneKind.NO_PARKING: "No parking",
    ZoneKind.SLOW: "Slow zone",
}


class ZoneInvalid(ValueError):
    """A zone that cannot be stored; ``reason`` (also ``str(exc)``) is for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """One zone as the map draws it and the services check it; ``id`` is None until
    stored. ``ring`` is [(lon, lat), ...] without repeating the first point."""

    id: int | None
    name: str
    kind: str
    ring: list[tuple[float, float]]

    def polygon(self) -> Polygon:
        return Polygon(self.ring)


def _normalised(ring: Iterable[Sequence[float]]) -> list[tuple[float, float]]:
    """The ring as float pairs, with repeated neighbours and a closing point dropped
    (a GeoJSON ring repeats its first point; a double click adds a point twice)."""
    points: list[tuple[float, float]] = []
    for number, pair in enumerate(ring, start=1):
        if len(pair) != 2:
            raise ZoneInvalid(f"Point {number} is not a longitude, latitude pair.")
        try:
            lon, lat = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            raise ZoneInvalid(f"Point {number} is not a pair of numbers.") from None
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ZoneInvalid(f"Point {number} is not a finite coordinate.")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ZoneInvalid(
                f"Point {number} ({lon:g}, {lat:g}) is off the globe: longitude must be "
                "within ±180° and latitude within ±90°."
            )
        if not points or points[-1] != (lon, lat):
            points.append((lon, lat))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return points


#: Below this a zone has "no area": points on one line up to floating-point noise.
MIN_AREA_M2 = 1.0


def _square_metres(geometry: BaseGeometry) -> float:
    """The area in m², near enough (a degree is ~111 km; longitude shrinks with cos lat)."""
    lat = math.radians(geometry.centroid.y) if not geometry.is_empty else 0.0
    return float(geometry.area) * 111_320.0**2 * math.cos(lat)


def validated(shape: ZoneShape) -> ZoneShape:
    """``shape`` with its name trimmed and its ring normalised, or ZoneInvalid(reason)."""
    name = shape.name.strip()
    if not name:
        raise ZoneInvalid("The zone needs a name.")
    if len(name) > 120:
        raise ZoneInvalid("The zone's name is longer than 120 characters.")
    kinds = ", ".join(k.value for k in ZoneKind)
    if shape.kind not in {k.value for k in ZoneKind}:
        raise ZoneInvalid(f"Unknown zone kind {shape.kind!r} (one of {kinds}).")
    ring = _normalised(shape.ring)
    distinct = len(set(ring))
    if distinct < 3:
        raise ZoneInvalid(f"A zone needs at least 3 distinct points; this one has {distinct}.")
    if _square_metres(MultiPoint(ring).convex_hull) < MIN_AREA_M2:
        raise ZoneInvalid("The points lie on one line: the zone has no area.")
    polygon = Polygon(ring)
    if not polygon.is_valid or _square_metres(polygon) < MIN_AREA_M2:
        reason = shapely.is_valid_reason(polygon)
        where = reason.partition("[")[2].rstrip("]").split()
        at = f" near {float(where[0]):.6f}, {float(where[1]):.6f}" if len(where) == 2 else ""
        raise ZoneInvalid(f"The outline crosses itself{at}; move a point so it does not.")
    return ZoneShape(shape.id, name, shape.kind, ring)


@dataclass(frozen=True, slots=True)
class ZoneVerdict:
    """Where a vehicle stands with respect to the zones, as the alert rules read it."""

    outside_service_area: bool = False  # only True when service areas exist
    no_parking_zone: str | None = None  # the no-parking zone it is in, by name


@dataclass(frozen=True, slots=True)
class ZoneTransition:
    """A vehicle entered or left a zone at (lon, lat)."""

    vehicle_id: int
    zone_id: int
    event: str  # "enter" | "exit"
    lon: float
    lat: float


def _shape(row: Zone) -> ZoneShape:
    return ZoneShape(row.id, row.name, row.kind, [(p[0], p[1]) for p in json.loads(row.ring)])


class ZoneRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def all(self) -> list[ZoneShape]:
        with self._db.session() as s:
            return [_shape(z) for z in s.scalars(select(Zone).order_by(Zone.id))]

    def fingerprint(self) -> tuple[int, int, int]:
        """(count, highest id, sum of revisions): differs after any add, edit or delete,
        here or on another workstation, so a process knows its index is out of date."""
        with self._db.session() as s:
            query = select(
                func.count(),
                func.coalesce(func.max(Zone.id), 0),
                func.coalesce(func.sum(Zone.revision), 0),
            )
            row = s.execute(query).one()
            return int(row[0]), int(row[1]), int(row[2])

    def add(self, shape: ZoneShape, now: datetime) -> ZoneShape:
        good = validated(shape)
        with self._db.session() as s:
            row = Zone(
                name=good.name,
                kind=good.kind,
                ring=json.dumps([list(p) for p in good.ring]),
                created_at=now,
                updated_at=now,
                revision=1,
            )
            s.add(row)
            s.flush()
            return ZoneShape(row.id, good.name, good.kind, good.ring)

    def update(self, shape: ZoneShape, now: datetime) -> ZoneShape:
        good = validated(shape)
        with self._db.session() as s:
            row = s.get(Zone, shape.id) if shape.id is not None else None
            if row is None:
                raise ZoneInvalid("The zone no longer exists (deleted on another workstation?).")
            row.name, row.kind = good.name, good.kind
            row.ring = json.dumps([list(p) for p in good.ring])
            row.updated_at = now
            row.revision += 1
            return good

    def delete(self, zone_id: int) -> bool:
        with self._db.session() as s:
            row = s.get(Zone, zone_id)
            if row is None:
                return False
            s.execute(delete(ZoneEvent).where(ZoneEvent.zone_id == zone_id))
            s.delete(row)
            return True

    def count(self) -> int:
        return self.fingerprint()[0]

    # -- presence ------------------------------------------------------------------------

    def positions(self, vehicle_ids: Iterable[int] | None) -> dict[int, tuple[float, float]]:
        """vehicle id -> its latest (lon, lat), for live vehicles with a known position."""
        query = (
            select(VehicleState.vehicle_id, VehicleState.longitude, VehicleState.latitude)
            .join(Vehicle, Vehicle.id == VehicleState.vehicle_id)
            .where(
                Vehicle.archived_at.is_(None),
                VehicleState.latitude.is_not(None),
                VehicleState.longitude.is_not(None),
            )
        )
        if vehicle_ids is not None:
            query = query.where(VehicleState.vehicle_id.in_(list(vehicle_ids)))
        with self._db.session() as s:
            return {
                v: (lon, lat)
                for v, lon, lat in s.execute(query)
                if lon is not None and lat is not None
            }

    def presence(self, vehicle_ids: Iterable[int] | None) -> dict[int, frozenset[int]]:
        """vehicle id -> the zones it is in, for vehicles whose position was checked."""
        query = select(ZonePresence.vehicle_id, ZonePresence.zone_ids)
        if vehicle_ids is not None:
            query = query.where(ZonePresence.vehicle_id.in_(list(vehicle_ids)))
        with self._db.session() as s:
            return {v: frozenset(ids) for v, ids in s.execute(query)}

    def record(
        self,
        presence: dict[int, frozenset[int]],
        known: Iterable[int],
        transitions: Sequence[ZoneTransition],
        now: datetime,
    ) -> None:
        """Store the new presence (``known``: vehicles that already have a row) and the
        enter and exit events, in one transaction."""
        had = set(known)
        with self._db.session() as s:
            for vehicle_id, zone_ids in presence.items():
                ids = sorted(zone_ids)
                if vehicle_id in had:
                    row = s.get(ZonePresence, vehicle_id)
                    if row is not None:
                        row.zone_ids, row.checked_at = ids, now
                        continue
                s.add(ZonePresence(vehicle_id=vehicle_id, zone_ids=ids, checked_at=now))
            s.add_all(
                ZoneEvent(
                    vehicle_id=t.vehicle_id,
                    zone_id=t.zone_id,
                    event=t.event,
                    at=now,
                    latitude=t.lat,
                    longitude=t.lon,
                )
                for t in transitions
            )

    def events(self, vehicle_id: int, limit: int = 200) -> list[tuple[datetime, str, str]]:
        """A vehicle's latest enter and exit events: (when, "enter"/"exit", zone name)."""
        with self._db.session() as s:
            rows = s.execute(
                select(ZoneEvent.at, ZoneEvent.event, Zone.name)
                .join(Zone, Zone.id == ZoneEvent.zone_id)
                .where(ZoneEvent.vehicle_id == vehicle_id)
                .order_by(ZoneEvent.at.desc(), ZoneEvent.id.desc())
                .limit(limit)
            ).all()
            return [(at, event, name) for at, event, name in rows]


def zone_verdicts(database: Database, vehicle_ids: Iterable[int] | None) -> dict[int, ZoneVerdict]:
    """The alert rules' zone facts for vehicles whose position was checked (stored
    presence; zones deleted since are ignored). Empty when there are no zones."""
    with database.session() as s:
        zones = {z.id: (z.kind, z.name) for z in s.scalars(select(Zone))}
        if not zones:
            return {}
        query = select(ZonePresence.vehicle_id, ZonePresence.zone_ids)
        if vehicle_ids is not None:
            query = query.where(ZonePresence.vehicle_id.in_(list(vehicle_ids)))
        rows = s.execute(query).all()
    has_service_area = any(kind == ZoneKind.SERVICE_AREA for kind, _ in zones.values())
    out: dict[int, ZoneVerdict] = {}
    for vehicle_id, ids in rows:
        mine = [zones[i] for i in ids if i in zones]
        outside = has_service_area and not any(k == ZoneKind.SERVICE_AREA for k, _ in mine)
        no_parking = sorted(name for k, name in mine if k == ZoneKind.NO_PARKING)
        out[vehicle_id] = ZoneVerdict(outside, no_parking[0] if no_parking else None)
    return out
