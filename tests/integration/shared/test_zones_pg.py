"""Zones on PostgreSQL: the repository, presence and the alert facts, and who may edit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.models.database import Database
from app.models.errors import PermissionRefused
from app.models.vehicles import VehicleFields, VehicleRepository
from app.models.zones import (
    ZoneInvalid,
    ZoneRepository,
    ZoneShape,
    ZoneTransition,
    ZoneVerdict,
    zone_verdicts,
)
from tests.helpers.people import person

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RING = [(13.40, 52.52), (13.41, 52.52), (13.41, 52.53), (13.40, 52.53)]


def test_zones_round_trip_and_bad_ones_are_never_stored(db):
    zones = ZoneRepository(db)
    area = zones.add(ZoneShape(None, "Mitte", "service_area", RING), T0)
    bay = zones.add(ZoneShape(None, "Lustgarten", "no_parking", RING[::-1]), T0)
    with pytest.raises(ZoneInvalid, match="crosses itself"):
        zones.add(ZoneShape(None, "Bow", "parking", [RING[0], RING[2], RING[1], RING[3]]), T0)
    assert zones.all() == [area, bay]
    before = zones.fingerprint()
    moved = zones.update(ZoneShape(bay.id, "Lustgarten Nord", "no_parking", RING[:3]), T0)
    assert zones.all()[1] == moved and zones.fingerprint() != before
    [car] = VehicleRepository(db).add_many(
        [VehicleFields(name="C", fleet_number="C-1", kind="car")]
    )
    zones.record(
        {car: frozenset({bay.id})}, (), [ZoneTransition(car, bay.id, "enter", 13.405, 52.525)], T0
    )
    assert zones.presence(None) == {car: frozenset({bay.id})}
    assert zone_verdicts(db, [car]) == {car: ZoneVerdict(True, "Lustgarten Nord")}
    assert zones.events(car) == [(T0, "enter", "Lustgarten Nord")]
    assert zones.delete(bay.id) and not zones.delete(bay.id)
    assert zones.events(car) == [] and zone_verdicts(db, [car]) == {car: ZoneVerdict(True, None)}


def test_a_manager_edits_zones_and_a_dispatcher_only_reads_them(db, db_url, postgres):
    with person(postgres, db_url, "manager") as (_, url), Database(url) as as_manager:
        zone = ZoneRepository(as_manager).add(ZoneShape(None, "Hof", "parking", RING), T0)
        ZoneRepository(as_manager).update(ZoneShape(zone.id, "Hof 2", "parking", RING), T0)
    with person(postgres, db_url, "dispatcher") as (_, url), Database(url) as as_dispatcher:
        assert [z.name for z in ZoneRepository(as_dispatcher).all()] == ["Hof 2"]
        with pytest.raises(PermissionRefused):
            ZoneRepository(as_dispatcher).add(ZoneShape(None, "Mine", "parking", RING), T0)
