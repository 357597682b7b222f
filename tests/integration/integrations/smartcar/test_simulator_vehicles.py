"""Simulated vehicle behaviour over HTTP: lazy evolution, commands, limits, units."""

from __future__ import annotations

import httpx
import pytest

from app.integrations.smartcar import SmartcarClient
from app.integrations.smartcar.errors import (
    PermissionDeniedError,
    RateLimitError,
    VehicleStateError,
)
from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import FakeClock
from tests.integration.integrations.smartcar.helpers import connect

FORD_VIN = "1FADP3F20JL000003"
TESLA_VIN = "5YJ3E1EA7KF000001"


async def _set(http: httpx.AsyncClient, vin: str, **state: object) -> dict:
    answer = await http.post(f"/_sim/vehicles/{vin}/state", json=state)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _vid(sim: RunningSimulator, vin: str) -> str:
    return sim.state.by_vin[vin].vehicle_id


@pytest.mark.asyncio
async def test_driving_moves_and_burns_parked_sits_still(
    client: SmartcarClient, sim: RunningSimulator, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    token = (await connect(client)).access_token
    ford, tesla = _vid(sim, FORD_VIN), _vid(sim, TESLA_VIN)
    await _set(http, FORD_VIN, activity="driving")
    await _set(http, TESLA_VIN, activity="parked")
    before = await client.read_snapshot(ford, token)
    parked_before = await client.read_snapshot(tesla, token)
    clock.advance(1800)  # half an hour at 36 km/h
    after = await client.read_snapshot(ford, token)
    parked_after = await client.read_snapshot(tesla, token)
    assert after.odometer.distance_km - before.odometer.distance_km == pytest.approx(18, abs=0.2)
    assert after.fuel.percent_remaining < before.fuel.percent_remaining
    assert after.location != before.location
    assert parked_after.location == parked_before.location
    assert parked_after.odometer == parked_before.odometer
    assert after.engine_oil.life_remaining <= before.engine_oil.life_remaining
    with pytest.raises(VehicleStateError) as moving:
        await client.unlock(ford, token)
    assert moving.value.code == "IN_MOTION"


@pytest.mark.asyncio
async def test_door_open_blocks_lock_and_asleep_blocks_reads(
    client: SmartcarClient, sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    token = (await connect(client)).access_token
    ford = _vid(sim, FORD_VIN)
    await _set(http, FORD_VIN, activity="parked", open_doors=["frontLeft"], locked=False)
    status = (await client.lock_status(ford, token)).value
    assert status.any_open and {d.type for d in status.doors if d.status == "OPEN"} == {"frontLeft"}
    with pytest.raises(VehicleStateError) as door:
        await client.lock(ford, token)
    assert door.value.code == "DOOR_OPEN"
    await _set(http, FORD_VIN, open_doors=[], asleep=True)
    with pytest.raises(VehicleStateError) as asleep:
        await client.location(ford, token)
    assert asleep.value.code == "ASLEEP"
    assert (await client.attributes(ford, token)).value.make == "FORD"


@pytest.mark.asyncio
async def test_scope_not_granted_gives_permission_error(
    client: SmartcarClient, sim: RunningSimulator
) -> None:
    token = (await connect(client, scopes=["read_vehicle_info", "read_odometer"])).access_token
    ford = _vid(sim, FORD_VIN)
    assert (await client.odometer(ford, token)).value.distance_km > 0
    with pytest.raises(PermissionDeniedError) as denied:
        await client.location(ford, token)
    assert denied.value.status == 403 and denied.value.needs_reauthentication
    with pytest.raises(PermissionDeniedError):
        await client.lock(ford, token)


@pytest.mark.asyncio
async def test_per_vehicle_rate_limit_with_retry_after(
    client: SmartcarClient, sim: RunningSimulator, clock: FakeClock
) -> None:
    token = (await connect(client)).access_token
    ford = _vid(sim, FORD_VIN)
    for _ in range(40):  # the fixture's bucket holds 40
        await client.vin(ford, token)
    with pytest.raises(RateLimitError) as limited:
        await client.vin(ford, token)
    assert limited.value.code == "VEHICLE" and limited.value.retry_after == 2
    other = _vid(sim, TESLA_VIN)
    assert (await client.vin(other, token)).value.vin == TESLA_VIN  # other cars unaffected
    clock.advance(2)
    assert (await client.vin(ford, token)).value.vin == FORD_VIN


@pytest.mark.asyncio
async def test_imperial_units_and_ev_charging(
    client: SmartcarClient, sim: RunningSimulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = (await connect(client)).access_token
    tesla = _vid(sim, TESLA_VIN)
    base = f"/v2.0/vehicles/{tesla}"
    auth = {"Authorization": f"Bearer {token}"}
    metric = (await http.get(f"{base}/odometer", headers=auth)).json()["distance"]
    imperial = await http.get(f"{base}/odometer", headers={**auth, "sc-unit-system": "imperial"})
    assert imperial.headers["SC-Unit-System"] == "imperial"
    assert imperial.json()["distance"] == pytest.approx(metric / 1.609344, rel=1e-3)
    await _set(http, TESLA_VIN, activity="charging")
    before = (await client.battery(tesla, token)).value.percent_remaining
    clock.advance(3600)
    charge = (await client.charge(tesla, token)).value
    assert charge.is_plugged_in and charge.state in ("CHARGING", "FULLY_CHARGED")
    assert (await client.battery(tesla, token)).value.percent_remaining > before
