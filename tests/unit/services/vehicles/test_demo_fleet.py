import math

from app.config import DemoSettings
from app.integrations.iot.profiles import PROTOCOL_PORTS, get_profile
from app.models.database import Database, sqlite_url
from app.models.vehicles import VehicleRepository
from app.services.vehicles.demo_fleet import BRANDS, demo_fleet, seed_if_empty
from app.services.vehicles.service import check
from app.services.vehicles.validation import imei_problem, smartcar_year_problem, vin_problem


def test_demo_fleet_is_mixed_plausible_and_valid():
    fleet = demo_fleet(DemoSettings())
    cars = [v for v in fleet if v.fields.kind == "car"]
    small = [v for v in fleet if v.fields.kind != "car"]
    assert len(cars) == 40 and len(small) == 60
    assert {c.fields.make for c in cars} == set(BRANDS)  # all 11 brands of the product text
    assert {v.fields.kind for v in small} == {"scooter", "e-bike"}
    for car in cars:
        assert vin_problem(car.fields.vin) is None
        assert smartcar_year_problem(car.fields.year) is None
    for vehicle in small:
        assert imei_problem(vehicle.fields.imei) is None
        profile = get_profile(vehicle.fields.iot_vendor)
        assert vehicle.fields.iot_protocol in profile.allowed_protocols
    # every wire protocol the gateway speaks has demo devices, and ZIMO's broker path too
    # (plain Queclink gl200 is there as the okai dialect's framer; nmea is serial-only)
    expected = set(PROTOCOL_PORTS) - {"nmea", "gl200"} | {"mqtt-zimo"}
    assert {v.fields.iot_protocol for v in small} == expected
    for vehicle in fleet:
        assert check(vehicle.fields) == {}
    identities = [v.fields.vin or v.fields.imei for v in fleet]
    assert len(set(identities)) == len(identities)


def test_demo_fleet_is_placed_in_one_city():
    settings = DemoSettings()
    for vehicle in demo_fleet(settings):
        dy = (vehicle.latitude - settings.center_lat) * 111.0
        dx = (vehicle.longitude - settings.center_lon) * 111.0 * math.cos(math.radians(52.52))
        assert math.hypot(dx, dy) < 4.5


def test_demo_fleet_is_the_same_every_time():
    assert demo_fleet(DemoSettings()) == demo_fleet(DemoSettings())


def test_seeding_happens_once(tmp_path):
    with Database(sqlite_url(tmp_path / "f.sqlite")) as db:
        db.migrate()
        repository = VehicleRepository(db)
        assert seed_if_empty(repository, DemoSettings()) == 100
        assert seed_if_empty(repository, DemoSettings()) == 0
        rows = repository.list_rows()
        assert len(rows) == 100
        iot = [r for r in rows if r.connection_type == "iot"]
        assert len(iot) == 60 and all(r.iot_vendor for r in iot)
