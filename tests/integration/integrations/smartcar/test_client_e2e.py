"""Our async client through the same scenario as the official SDK, over real sockets."""

from __future__ import annotations

import pytest

from app.integrations.smartcar import DataKind, SmartcarClient, TokenManager, TokenSet
from app.integrations.smartcar.errors import (
    AuthenticationError,
    CompatibilityError,
    ConnectedServicesAccountError,
    OAuthTokenError,
    RateLimitError,
    ServerError,
    UpstreamError,
    VehicleStateError,
)
from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import FakeClock
from tests.integration.integrations.smartcar.helpers import connect, connect_code


@pytest.mark.asyncio
async def test_connect_refresh_and_every_endpoint(
    client: SmartcarClient, sim: RunningSimulator
) -> None:
    first = await client.auth.exchange_code(await connect_code(client))
    saved: list[TokenSet] = []

    async def persist(tokens: TokenSet) -> None:
        saved.append(tokens)

    manager = TokenManager(client.auth, first, persist)
    rotated = await manager.refresh()
    assert saved == [rotated] and rotated.refresh_token != first.refresh_token
    with pytest.raises(OAuthTokenError) as reused:
        await client.auth.refresh(first.refresh_token)
    assert reused.value.error == "invalid_grant" and reused.value.status == 400
    token = await manager.access_token()

    user = await client.get_user(token)
    assert user.meta.request_id and len(user.value.id) == 36
    page = (await client.list_vehicles(token, limit=1, offset=1)).value
    assert page.count == 3 and page.offset == 1 and len(page.vehicle_ids) == 1
    ids = await client.all_vehicle_ids(token, page_size=2)
    assert len(ids) == 3

    makes = {}
    for vid in ids:
        attrs = (await client.attributes(vid, token)).value
        makes[attrs.make] = vid
        assert (await client.vin(vid, token)).value.vin
        loc = await client.location(vid, token)
        assert loc.meta.data_age is not None and loc.meta.fetched_at is not None
        assert (await client.odometer(vid, token)).value.distance_km > 0
        assert (await client.lock_status(vid, token)).value.is_locked is True
        tires = (await client.tire_pressure(vid, token)).value
        assert 150 < (tires.front_left_kpa or 0) < 300
        perms = (await client.permissions(vid, token)).value
        assert "control_security" in perms.permissions
    tesla, bmw, ford = makes["TESLA"], makes["BMW"], makes["FORD"]
    assert 0 < (await client.battery(tesla, token)).value.percent_remaining <= 1
    assert (await client.charge(tesla, token)).value.state == "NOT_CHARGING"
    with pytest.raises(CompatibilityError) as not_capable:
        await client.fuel(tesla, token)
    assert not_capable.value.code == "VEHICLE_NOT_CAPABLE" and not_capable.value.status == 501
    assert (await client.fuel(ford, token)).value.amount_liters is not None
    assert 0 <= (await client.engine_oil(ford, token)).value.life_remaining <= 1
    assert (await client.fuel(bmw, token)).value.range_km is not None  # PHEV: both
    assert (await client.battery(bmw, token)).value.range_km is not None

    await _park(sim, ford)
    assert (await client.unlock(ford, token)).value.status == "success"
    assert (await client.lock_status(ford, token)).value.is_locked is False
    assert (await client.lock(ford, token)).value.message

    result = await client.batch(tesla, token, [DataKind.ODOMETER, DataKind.FUEL, DataKind.VIN])
    assert result.items[DataKind.ODOMETER].reading is not None
    assert isinstance(result.items[DataKind.FUEL].error, CompatibilityError)
    assert result.items[DataKind.VIN].reading.meta.request_id == result.request_id

    snap = await client.read_snapshot(ford, token)
    assert snap.location and snap.fuel and snap.odometer and snap.lock_status
    assert snap.tire_pressure and snap.engine_oil and snap.battery is None
    assert set(snap.errors) == {DataKind.BATTERY}
    assert snap.data_ages[DataKind.LOCATION] is not None

    assert (await client.disconnect(tesla, token)).value.status == "success"
    with pytest.raises(AuthenticationError):
        await client.odometer(tesla, token)
    assert len(await client.all_vehicle_ids(token)) == 2


async def _park(sim: RunningSimulator, vehicle_id: str) -> None:
    vehicle = sim.state.vehicles[vehicle_id]
    vehicle.set_activity("parked", sim.state.clock())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("email", "error_class", "code", "status"),
    [
        ("VEHICLE_STATE.ASLEEP@x.test", VehicleStateError, "ASLEEP", 409),
        ("RATE_LIMIT.VEHICLE@x.test", RateLimitError, "VEHICLE", 429),
        ("SERVER.INTERNAL@x.test", ServerError, "INTERNAL", 500),
        ("UPSTREAM.NO_RESPONSE@x.test", UpstreamError, "NO_RESPONSE", 502),
        (
            "CONNECTED_SERVICES_ACCOUNT.VEHICLE_MISSING@x.test",
            ConnectedServicesAccountError,
            "VEHICLE_MISSING",
            400,
        ),
        ("AUTHENTICATION.NULL@x.test", AuthenticationError, None, 401),
    ],
)
async def test_forced_errors_become_typed_exceptions(
    client: SmartcarClient, email: str, error_class: type, code: str | None, status: int
) -> None:
    tokens = await connect(client, email)
    vid = (await client.list_vehicles(tokens.access_token)).value.vehicle_ids[0]
    with pytest.raises(error_class) as caught:
        await client.location(vid, tokens.access_token)
    err = caught.value
    assert (err.code, err.status) == (code, status)
    assert err.request_id and err.description
    if status == 429:
        assert err.retry_after == 30 and err.resolution.type == "RETRY_LATER"
    snap = await client.read_snapshot(vid, tokens.access_token)
    assert isinstance(snap.errors[DataKind.LOCATION], error_class)
    assert (await client.vin(vid, tokens.access_token)).value.vin  # static: not faulted


@pytest.mark.asyncio
async def test_token_expiry_and_refresh_via_manager(
    client: SmartcarClient, clock: FakeClock
) -> None:
    tokens = await connect(client)
    vid = (await client.list_vehicles(tokens.access_token)).value.vehicle_ids[0]
    clock.advance(2 * 3600 + 1)  # simulator-side: the access token is now expired
    with pytest.raises(AuthenticationError) as expired:
        await client.odometer(vid, tokens.access_token)
    assert expired.value.status == 401
    saved: list[TokenSet] = []

    async def persist(t: TokenSet) -> None:
        saved.append(t)

    manager = TokenManager(client.auth, tokens, persist)
    fresh = await manager.refresh(stale=tokens)
    assert saved == [fresh]
    assert (await client.odometer(vid, fresh.access_token)).value.distance_km > 0


@pytest.mark.asyncio
async def test_compatibility_by_vin(client: SmartcarClient) -> None:
    fleet_ev = await client.compatibility("5YJ3E1EA7KF000001", ["read_fuel", "read_battery"])
    caps = {c.endpoint: c for c in fleet_ev.value.capabilities}
    assert fleet_ev.value.compatible and not caps["/fuel"].capable
    assert caps["/fuel"].reason == "VEHICLE_NOT_CAPABLE" and caps["/battery"].capable
    old = (await client.compatibility("1FADP3F20DL000009", ["read_odometer"])).value
    assert (old.compatible, old.reason) == (False, "VEHICLE_NOT_COMPATIBLE")
    other = (await client.compatibility("ZFA31200000P00001", ["read_odometer"])).value
    assert (other.compatible, other.reason) == (False, "MAKE_NOT_COMPATIBLE")


@pytest.mark.asyncio
async def test_read_snapshots_bounded_concurrency(client: SmartcarClient) -> None:
    tokens = await connect(client)
    ids = await client.all_vehicle_ids(tokens.access_token)
    pairs = [(vid, tokens.access_token) for vid in ids] + [(ids[0], "forged-token")]
    results = await client.read_snapshots(pairs, concurrency=2)
    assert [r.vehicle_id for r in results[:3]] == ids
    assert isinstance(results[3], AuthenticationError)
