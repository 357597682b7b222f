"""Simulator building blocks without HTTP: fleet generation, VINs, lazy state evolution."""

from __future__ import annotations

import pytest

from app.integrations.smartcar.simulator import VehicleSpec, generate_fleet
from app.integrations.smartcar.simulator.core import RateLimiter
from app.integrations.smartcar.simulator.specs import decode_year, is_valid_vin, make_vin
from app.integrations.smartcar.simulator.state import SimVehicle

_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VALUES = dict(
    zip(
        "0123456789ABCDEFGHJKLMNPRSTUVWXYZ",
        [*range(10), 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
        strict=True,
    )
)


def _check_digit_ok(vin: str) -> bool:
    total = sum(_VALUES[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    return vin[8] == ("X" if total % 11 == 10 else str(total % 11))


def test_generated_fleet_is_deterministic_and_plausible() -> None:
    fleet = generate_fleet(200, seed=7)
    assert fleet == generate_fleet(200, seed=7)
    assert fleet != generate_fleet(200, seed=8)
    assert len({v.vin for v in fleet}) == 200
    assert all(is_valid_vin(v.vin) and _check_digit_ok(v.vin) for v in fleet)
    assert all(2016 <= v.year <= 2025 and decode_year(v.vin, 2030) == v.year for v in fleet)
    assert {v.powertrain for v in fleet} == {"ice", "bev", "phev"}
    assert all(v.owner_email == "o@x" for v in generate_fleet(3, owner_email="o@x"))


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="VIN"):
        VehicleSpec("SHORT", "KIA", "EV6", 2021, "bev", 0, 0, 0)
    with pytest.raises(ValueError, match="powertrain"):
        VehicleSpec(make_vin("KNA", 2021, 1), "KIA", "EV6", 2021, "steam", 0, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lat"):
        VehicleSpec(make_vin("KNA", 2021, 1), "KIA", "EV6", 2021, "bev", 95, 0, 0)


def _car(powertrain: str) -> SimVehicle:
    spec = VehicleSpec(
        make_vin("WVW", 2020, 42), "VOLKSWAGEN", "X", 2020, powertrain, 52.0, 13.0, 1000.0
    )  # type: ignore[arg-type]
    return SimVehicle.from_spec(spec, now=0.0)


def test_driving_ev_uses_battery_and_stops_at_reserve() -> None:
    car = _car("bev")
    car.set_activity("driving", 0.0)
    start_battery = car.battery_fraction
    car.advance(3600)  # 36 km
    assert car.odometer_km == pytest.approx(1036)
    assert car.battery_fraction == pytest.approx(start_battery - 36 * 0.16 / 60)
    car.advance(3600 * 1000)  # far beyond the range: the car parks with reserve left
    assert car.activity == "parked" and car.battery_fraction == pytest.approx(0.03)
    odometer = car.odometer_km
    car.advance(3600 * 2000)
    assert car.odometer_km == odometer


def test_phev_drives_electric_first_then_fuel() -> None:
    car = _car("phev")
    car.set_activity("driving", 0.0)
    fuel = car.fuel_fraction
    car.advance(60)
    assert car.fuel_fraction == fuel and car.battery_fraction < 0.99
    car.battery_fraction = 0.03
    car.advance(120)
    assert car.fuel_fraction < fuel


def test_a_long_phev_catch_up_spends_the_battery_to_its_reserve_then_fuel() -> None:
    """Hours between two reads: the battery must never be driven below empty."""
    car = _car("phev")
    car.set_activity("driving", 0.0)
    fuel = car.fuel_fraction
    car.advance(5 * 3600)  # 180 km: far more than the pack holds
    assert car.battery_fraction == pytest.approx(0.03) and car.fuel_fraction < fuel
    assert car.odometer_km == pytest.approx(1180)


def test_parked_car_only_loses_tire_pressure_and_charging_stops_at_limit() -> None:
    car = _car("ice")
    car.set_activity("parked", 0.0)
    snapshot = (car.lat, car.lon, car.odometer_km, car.fuel_fraction)
    tires = dict(car.tires_kpa)
    car.advance(10 * 86400)
    assert (car.lat, car.lon, car.odometer_km, car.fuel_fraction) == snapshot
    assert all(car.tires_kpa[k] == pytest.approx(tires[k] - 4.0) for k in tires)
    ev = _car("bev")
    ev.set_activity("charging", 0.0)
    ev.advance(100 * 3600)
    assert ev.battery_fraction == ev.charge_limit and ev.plugged_in


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(capacity=2, refill_per_s=0.1, clock=lambda: now[0])
    assert [limiter.acquire("v"), limiter.acquire("v")] == [0, 0]
    assert limiter.acquire("v") == 10
    assert limiter.acquire("other") == 0
    now[0] = 10.0
    assert limiter.acquire("v") == 0


def test_a_car_that_just_parked_reports_no_earlier_than_it_last_drove() -> None:
    """Data age is 0 while driving and a few minutes once parked; the spot where the car
    stopped must not be stamped older than the last position it reported while driving,
    or a store keeping the newest value shows that driving position for the whole stop."""
    car = _car("ice")
    age = int(car.vehicle_id[:4], 16) % 300
    assert age > 60  # this VIN's parked data age: the case that went wrong
    car.set_activity("driving", 1000.0)
    assert car.reported_at(1060.0) == 1060.0
    car.set_activity("parked", 1090.0)
    assert car.reported_at(1120.0) == 1090.0  # when it stopped, not 1120 - age
    assert car.reported_at(1090.0 + 3600) == 1090.0 + 3600 - age  # later: the usual age
