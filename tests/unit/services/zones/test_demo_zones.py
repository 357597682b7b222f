"""Demo zones: valid, seeded once, holding the demo fleet, with no vehicle starting in the
no-parking zone."""

from app.config import DemoSettings
from app.models.zones import ZoneKind, ZoneRepository, validated
from app.services.vehicles.demo_fleet import demo_fleet
from app.services.zones.demo import demo_zones, seed_demo_zones
from app.services.zones.index import ZoneIndex


def test_demo_zones_are_valid_and_seeded_only_into_an_empty_table(db):
    settings = DemoSettings()
    assert [validated(z) for z in demo_zones(settings)]
    repository = ZoneRepository(db)
    assert seed_demo_zones(repository, settings) == 5
    assert seed_demo_zones(repository, settings) == 0
    kinds = sorted(z.kind for z in repository.all())
    assert kinds == ["no_parking", "parking", "parking", "parking", "service_area"]


def test_the_demo_fleet_starts_inside_the_service_area_and_out_of_the_no_parking_zone():
    settings = DemoSettings()
    zones = [z.__class__(i, z.name, z.kind, z.ring) for i, z in enumerate(demo_zones(settings))]
    index = ZoneIndex(zones, margin_m=15.0)
    for vehicle in demo_fleet(settings):
        inside = {
            index.zones[z].kind for z in index.step(vehicle.longitude, vehicle.latitude, None)
        }
        assert ZoneKind.SERVICE_AREA in inside and ZoneKind.NO_PARKING not in inside
