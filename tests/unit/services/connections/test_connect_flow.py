"""Connect → link against the simulator: VIN linking, several cars, permissions, errors."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from app.integrations.smartcar.scopes import REQUIRED_SCOPES, connect_scope_param
from app.integrations.smartcar.simulator.specs import make_vin
from app.services.connections.backends import DEMO_OWNER_EMAIL
from app.services.connections.connect_results import ConnectFailed, VinInUse, VinMismatch, plan_link
from app.services.connections.health import missing_permissions, rentable
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.unit.services.connections.conftest import Env


@pytest.mark.asyncio
async def test_demo_connect_url_offers_exactly_the_records_car(env: Env) -> None:
    row = env.car()
    query = parse_qs(urlsplit(env.service.begin(row.id, row.vin)).query)
    assert query["single_select_vin"] == [row.vin] and query["mode"] == ["simulated"]
    assert query["scope"][0].split() == connect_scope_param()


@pytest.mark.asyncio
async def test_connect_links_by_vin_and_stores_everything(env: Env) -> None:
    row = env.car(1)
    record = await env.connect(1)
    assert record.vehicle_id == row.id and record.status == "active"
    assert set(REQUIRED_SCOPES) <= set(record.granted_scopes)
    assert rentable(record) and record.connected_at and record.last_sync_at
    assert record.access_expires_at > env.clock() and record.can_call
    after = env.context.vehicles.repository.row(row.id)
    assert after.connection_type == "smartcar" and after.connection_status == "active"
    assert after.vin == row.vin and after.make.lower() == row.make.lower()


@pytest.mark.asyncio
async def test_vin_mismatch_must_be_resolved_not_overwritten(env: Env) -> None:
    first, second = env.car(0), env.car(1)
    # Authorize for the first record but with the second car's VIN in the Connect URL.
    auth = await env.authorize(first.id, second.vin)
    plan = await env.service.plan(auth)
    assert plan.vin_conflict and plan.match.vin == second.vin
    with pytest.raises(VinMismatch) as caught:
        await env.service.link(auth, plan.match)
    assert caught.value.record_vin == first.vin and caught.value.smartcar_vin == second.vin
    assert env.context.vehicles.repository.row(first.id).vin == first.vin
    # Accepting Smartcar's VIN is refused too while another record holds that VIN.
    with pytest.raises(VinInUse, match=second.fleet_number):
        await env.service.link(auth, plan.match, accept_vin=True)
    assert await env.service.connection_for(first.id) is None


@pytest.mark.asyncio
async def test_grant_with_several_cars_lets_the_operator_pick_and_add_the_rest(env: Env) -> None:
    row = env.car(2)
    # The owner login sees all four demo cars (no single_select without a VIN).
    auth = await env.authorize(row.id, None, email=DEMO_OWNER_EMAIL)
    assert len(auth.cars) == 4
    assert plan_link(None, auth.cars).needs_choice
    plan = await env.service.plan(auth)
    assert plan.match.vin == row.vin  # the record's VIN picks its car among several
    await env.service.link(auth, plan.match)
    others = [c for c in auth.cars if c is not plan.match]
    linked = await env.service.add_as_new_vehicles(auth, others)
    assert len(linked) == 3
    records = await env.service.all_connections()
    assert len(records) == 4 and {r.status for r in records} == {"active"}
    assert len({r.smartcar_user_id for r in records}) == 1


@pytest.mark.asyncio
async def test_missing_permissions_still_connect_but_are_named_and_not_rentable(env: Env) -> None:
    env.service.scopes = connect_scope_param(
        tuple(s for s in REQUIRED_SCOPES if s not in ("control_security", "read_fuel")), ()
    )
    record = await env.connect(0)
    assert record.status == "active" and not rentable(record)
    assert missing_permissions(record.granted_scopes) == ["read_fuel", "control_security"]
    assert "Control Security (blocks remote lock/unlock" in record.status_reason
    assert "Read Fuel (blocks fuel tracking" in record.status_reason


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("email", "decision", "expected"),
    [
        (DEMO_OWNER_EMAIL, "deny", "declined"),
        ("smartcar@vehicle-incompatible.com", "allow", "not compatible"),
        ("smartcar@no-vehicles.com", "allow", "no cars"),
        ("smartcar@invalid-subscription.com", "allow", "subscription is inactive"),
        ("smartcar@server-error.com", "allow", "Smartcar had a problem"),
    ],
)
async def test_connect_errors_give_a_message_and_leave_the_vehicle(
    env: Env, email: str, decision: str, expected: str
) -> None:
    row = env.car()
    url = env.service.begin(row.id, None)
    redirect = await asyncio.to_thread(walk_connect, url, email=email, decision=decision)
    with pytest.raises(ConnectFailed, match=expected):
        await env.service.complete(redirect)
    assert await env.service.connection_for(row.id) is None
    assert env.context.vehicles.repository.row(row.id) == row


@pytest.mark.asyncio
async def test_configuration_error_for_an_unknown_vin(env: Env) -> None:
    row = env.car()
    url = env.service.begin(row.id, "1HGCM82633A004352")
    redirect = await asyncio.to_thread(walk_connect, url)
    with pytest.raises(ConnectFailed, match="Connect could not continue"):
        await env.service.complete(redirect)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.connections.service", r"Connect redirect refused: bad state")
async def test_forged_redirect_with_a_wrong_state_is_refused(env: Env) -> None:
    row = env.car()
    url = env.service.begin(row.id, row.vin)
    redirect = await asyncio.to_thread(walk_connect, url)
    forged = redirect.replace("state=", "state=x")
    with pytest.raises(ConnectFailed, match="state mismatch"):
        await env.service.complete(forged)
    # A state is single use: the genuine redirect still works once, then never again.
    await env.service.complete(redirect)
    with pytest.raises(ConnectFailed, match="state mismatch"):
        await env.service.complete(redirect)


@pytest.mark.asyncio
async def test_network_failure_during_exchange_is_reported(env: Env) -> None:
    row = env.car()
    url = env.service.begin(row.id, row.vin)
    redirect = await asyncio.to_thread(walk_connect, url)
    await env.backends.simulator.stop()
    with pytest.raises(ConnectFailed, match="could not be reached"):
        await env.service.complete(redirect)
    env.backends.simulator = None


@pytest.mark.asyncio
async def test_compatibility_check(env: Env) -> None:
    row = env.car()
    report = await env.service.check_compatibility(row.vin)
    assert report.compatible and set(report.permissions) == set(REQUIRED_SCOPES)
    old = await env.service.check_compatibility(make_vin("JHM", 2012, 5))
    assert not old.compatible and "2016" in old.reason
    foreign = await env.service.check_compatibility("ZFA22300005556777")
    assert not foreign.compatible and "make" in foreign.reason


@pytest.mark.asyncio
async def test_redirect_matching_ignores_the_query_only(env: Env) -> None:
    uri = env.service.redirect_uri
    assert env.service.is_redirect(f"{uri}?code=1&state=2")
    assert not env.service.is_redirect(uri.replace("/sc/callback", "/other"))
    assert not env.service.is_redirect(uri.replace("127.0.0.1", "example.com"))
