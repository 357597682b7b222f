"""The simulated vehicle model and the simulator command line."""

from __future__ import annotations

import random
import socket

from app.integrations.iot.simulator import default_fleet, imei_for, main
from app.integrations.iot.simulator.vehicle import CITY_CENTRE, SimVehicle
from app.services.vehicles.validation import imei_problem


def test_unlocked_vehicle_rides_and_drains_locked_one_stands_still() -> None:
    rng = random.Random(1)
    rider = SimVehicle("1", "scooter", *CITY_CENTRE, battery_pct=80, locked=False, rng=rng)
    parked = SimVehicle("2", "scooter", *CITY_CENTRE, battery_pct=80, locked=True, rng=rng)
    for _ in range(60):
        rider.step(10)
        parked.step(10)
    assert rider.odometer_km > 0.5 and rider.battery_pct < 79
    assert (rider.latitude, rider.longitude) != CITY_CENTRE
    assert (parked.latitude, parked.longitude) == CITY_CENTRE and parked.speed_kmh == 0
    assert 79.5 < parked.battery_pct < 80


def test_spawned_vehicles_stay_near_the_centre_and_fleet_mixes_protocols() -> None:
    rng = random.Random(5)
    for i in range(200):
        v = SimVehicle.spawn(imei_for(i), "ebike", rng, radius_km=2.0)
        assert abs(v.latitude - CITY_CENTRE[0]) < 0.02 and abs(v.longitude - CITY_CENTRE[1]) < 0.03
    fleet = default_fleet(8, seed=2)
    assert {s.protocol for s in fleet} == {
        "omni",
        "gl200",
        "teltonika",
        "gt06",
        "jt808",
        "segway",
        "okai",
    }
    assert len({s.device_id for s in fleet}) == 8
    assert all(len(s.device_id) == 15 and s.device_id.isdigit() for s in fleet)


def test_cli_runs_for_a_while_against_an_absent_gateway_and_exits_cleanly(capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = str(sock.getsockname()[1])
    ports = [
        a for p in ("omni", "gl200", "teltonika", "gt06") for a in (f"--port-{p}", closed_port)
    ]
    assert main(["--devices", "4", "--duration", "0.3", "--interval", "0.05", *ports]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 5 and "NMEA GPS on /dev/" in out


def test_cli_rejects_nonsense_arguments(capsys) -> None:
    assert main(["--devices", "-1"]) == 2
    assert "--devices" in capsys.readouterr().out


def test_a_locked_vehicle_running_low_charges_until_nearly_full_or_unlocked() -> None:
    bike = SimVehicle("x", "ebike", *CITY_CENTRE, battery_pct=19.0, locked=True)
    bike.step(10)
    assert bike.charging and bike.battery_pct > 19.0 and bike.speed_kmh == 0.0
    bike.step(2_000)  # long enough to be full
    assert not bike.charging and bike.battery_pct >= 95.0
    scooter = SimVehicle("y", "scooter", *CITY_CENTRE, battery_pct=30.0, charging=True)
    scooter.locked = False  # a rider takes it off the charger
    scooter.step(10)
    assert not scooter.charging and scooter.battery_pct < 30.0
    fleet = [SimVehicle.spawn(str(n), "scooter", random.Random(n)) for n in range(200)]
    assert 5 < sum(v.charging for v in fleet) < 60  # some start the day on the charger
    assert all(v.locked for v in fleet if v.charging)


def test_simulated_imeis_are_ones_the_vehicle_dialog_accepts() -> None:
    """An operator adds a simulated device from the unknown-devices list by its IMEI: a
    wrong check digit would be refused as a typo."""
    imeis = [imei_for(i, seed) for seed in (0, 3, 42, 999) for i in (0, 1, 9, 12_345, 10**9 - 1)]
    assert [i for i in imeis if imei_problem(i) is not None] == []
    assert len(set(imeis)) == len(imeis)
