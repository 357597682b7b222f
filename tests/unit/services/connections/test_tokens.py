"""Tokens at rest, background refresh, expiry, revocation and disconnect, on the simulator."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest

from app.integrations.smartcar.errors import OAuthTokenError, ServerError
from app.services.connections.backends import DEMO_OWNER_EMAIL
from app.services.connections.health import RECONNECT_NEEDED
from app.services.connections.token_refresher import TokenRefresher
from app.services.connections.tokens import ReconnectNeeded, SmartcarUnavailable, VehicleRevoked
from tests.unit.services.connections.conftest import Env


def stored_pair(env: Env, connection_id: int) -> tuple[str, str]:
    enc = env.service.repository.tokens(connection_id)
    return env.service.cipher.decrypt(enc.access), env.service.cipher.decrypt(enc.refresh)


def database_bytes(env: Env) -> bytes:
    file = env.context.database.file
    return b"".join(p.read_bytes() for p in file.parent.glob(f"{file.name}*") if p.is_file())


async def sim_post(env: Env, path: str, body: dict | None = None) -> dict:
    async with httpx.AsyncClient(base_url=env.backends.simulator.base_url) as http:
        response = await http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()


@pytest.mark.asyncio
async def test_tokens_are_encrypted_in_the_database_and_never_logged(env: Env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    record = await env.connect(0)
    access, refresh = stored_pair(env, record.id)
    env.clock.offset = timedelta(hours=1, minutes=55)
    await TokenRefresher(env.service, clock=env.clock).run_once()
    new_access, new_refresh = stored_pair(env, record.id)
    assert new_refresh != refresh
    raw = database_bytes(env)
    log = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in (access, refresh, new_access, new_refresh):
        assert secret.encode() not in raw
        assert secret not in log
    assert "refreshed Smartcar tokens" in log
    assert "access" not in repr(record).lower().replace("access_expires_at", "")


@pytest.mark.asyncio
async def test_background_refresh_renews_before_expiry_and_persists_first(env: Env) -> None:
    record = await env.connect(0)
    _, refresh = stored_pair(env, record.id)
    refresher = TokenRefresher(env.service, clock=env.clock)
    assert (await refresher.run_once()).refreshed == 0  # two hours left: nothing to do
    env.clock.offset = timedelta(hours=1, minutes=52)
    result = await refresher.run_once()
    assert result.refreshed == 1 and result.expired == 0
    access, new_refresh = stored_pair(env, record.id)
    assert new_refresh != refresh
    after = await env.service.connection_for(env.car(0).id)
    assert after.access_expires_at > record.access_expires_at and after.status == "active"
    client = env.backends.smartcar
    assert (await client.location(record.smartcar_vehicle_id, access)).value.latitude
    with pytest.raises(OAuthTokenError, match="invalid_grant"):
        await client.auth.refresh(refresh)  # the old refresh token is dead


@pytest.mark.asyncio
async def test_concurrent_refreshes_of_one_connection_run_once(env: Env) -> None:
    record = await env.connect(0)
    access, _ = stored_pair(env, record.id)
    tokens = await asyncio.gather(
        *(env.service.tokens.access_token(record.id, stale=access) for _ in range(6))
    )
    assert len(set(tokens)) == 1 and tokens[0] != access
    after = await env.service.connection_for(env.car(0).id)
    assert after.status == "active"  # a second refresh would have hit invalid_grant
    assert stored_pair(env, record.id)[0] == tokens[0]


@pytest.mark.asyncio
async def test_a_refused_refresh_moves_the_connection_to_expired(env: Env) -> None:
    record = await env.connect(0)
    _, refresh = stored_pair(env, record.id)
    await env.backends.smartcar.auth.refresh(refresh)  # rotated elsewhere: ours is now dead
    env.clock.offset = timedelta(hours=2)
    result = await TokenRefresher(env.service, clock=env.clock).run_once()
    assert result.expired == 1
    after = await env.service.connection_for(env.car(0).id)
    assert after.status == "expired" and after.status_reason == RECONNECT_NEEDED
    assert env.context.vehicles.repository.row(env.car(0).id).connection_status == "expired"


@pytest.mark.asyncio
async def test_a_lapsed_refresh_token_expires_without_calling_smartcar(env: Env) -> None:
    record = await env.connect(0)
    env.clock.offset = timedelta(days=61)
    await env.backends.simulator.stop()  # no network needed to know
    env.backends.simulator = None
    with pytest.raises(ReconnectNeeded):
        await env.service.tokens.access_token(record.id)
    assert (await env.service.connection_for(env.car(0).id)).status == "expired"


@pytest.mark.asyncio
async def test_an_access_token_refused_by_the_api_is_refreshed_and_retried(env: Env) -> None:
    record = await env.connect(0)
    old_access, _ = stored_pair(env, record.id)
    assert (await sim_post(env, "/_sim/tokens/expire"))["expired"] >= 1
    location = await env.service.tokens.call(record.id, env.backends.smartcar.location)
    assert location.value.latitude and stored_pair(env, record.id)[0] != old_access
    assert (await env.service.connection_for(env.car(0).id)).status == "active"


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.connections.tokens", r"connection")
async def test_owner_revocation_makes_the_connection_disconnected(env: Env) -> None:
    record = await env.connect(1)
    access, _ = stored_pair(env, record.id)
    # The owner removes the app in the manufacturer's account (Smartcar's DELETE).
    await env.backends.smartcar.disconnect(record.smartcar_vehicle_id, access)
    with pytest.raises(VehicleRevoked):
        await env.service.refresh_now(record.id)
    after = await env.service.connection_for(env.car(1).id)
    assert after.status == "disconnected" and not after.can_call
    assert env.context.vehicles.repository.row(env.car(1).id).connection_status is None


@pytest.mark.asyncio
async def test_outages_move_to_error_and_recovery_back_to_active(env: Env) -> None:
    record = await env.connect(0, email="SERVER.INTERNAL@x.test")
    with pytest.raises(ServerError):
        await env.service.tokens.call(record.id, env.backends.smartcar.location)
    after = await env.service.connection_for(env.car(0).id)
    assert after.status == "error" and "outage" in after.status_reason
    await env.service.refresh_now(record.id)  # static reads still work: back to Active
    assert (await env.service.connection_for(env.car(0).id)).status == "active"


@pytest.mark.asyncio
async def test_a_network_failure_during_refresh_is_an_error_not_an_expiry(env: Env) -> None:
    record = await env.connect(0)
    env.clock.offset = timedelta(hours=2)
    await env.backends.simulator.stop()
    env.backends.simulator = None
    with pytest.raises(SmartcarUnavailable):
        await env.service.tokens.access_token(record.id)
    after = await env.service.connection_for(env.car(0).id)
    assert after.status == "error" and after.can_call


@pytest.mark.asyncio
async def test_disconnect_revokes_wipes_tokens_and_keeps_history(env: Env) -> None:
    record = await env.connect(0)
    access, _ = stored_pair(env, record.id)
    await env.service.disconnect(record.id)
    after = await env.service.connection_for(env.car(0).id)
    assert after.id == record.id and after.status == "disconnected" and not after.can_call
    assert after.connected_at == record.connected_at
    with pytest.raises(Exception, match="AUTHENTICATION"):
        await env.backends.smartcar.attributes(record.smartcar_vehicle_id, access)
    # Reconnecting writes a new row and the old one stays as history.
    again = await env.connect(0)
    assert again.id != record.id and again.status == "active"


@pytest.mark.asyncio
async def test_a_rotated_shared_pair_is_saved_on_every_car_of_the_grant(env: Env) -> None:
    row = env.car(0)
    auth = await env.authorize(row.id, None, email=DEMO_OWNER_EMAIL)
    plan = await env.service.plan(auth)
    first = await env.service.link(auth, plan.match)
    await env.service.add_as_new_vehicles(auth, [c for c in auth.cars if c is not plan.match])
    records = await env.service.all_connections()
    env.clock.offset = timedelta(hours=1, minutes=55)
    result = await TokenRefresher(env.service, clock=env.clock).run_once()
    assert result.refreshed == len(records) and result.expired == 0
    pairs = {stored_pair(env, r.id) for r in records}
    assert len(pairs) == 1  # one refresh, written to all four rows
    assert {r.status for r in await env.service.all_connections()} == {"active"}
    assert first.id in {r.id for r in records}
