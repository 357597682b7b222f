"""The Connect pages and token endpoint as a browser and an app see them (real HTTP)."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import ConnectRedirectError, OAuthTokenError
from app.integrations.smartcar.simulator import (
    RunningSimulator,
    SimulatorConfig,
    VehicleSpec,
    start_simulator,
)
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    FakeClock,
)
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.integrations.smartcar.helpers import ALL_SCOPES, connect, connect_code

BRANDS = {
    "BMW",
    "CHEVROLET",
    "FORD",
    "HONDA",
    "HYUNDAI",
    "KIA",
    "MERCEDES-BENZ",
    "NISSAN",
    "TESLA",
    "TOYOTA",
    "VOLKSWAGEN",
}


def _auth_url(client: SmartcarClient, **options: str) -> str:
    return client.auth.connect_url(ALL_SCOPES, "st-1", mode="simulated", **options)


@pytest.mark.asyncio
async def test_pages_have_stable_ids(client: SmartcarClient, http: httpx.AsyncClient) -> None:
    brand_page = await http.get(_auth_url(client))
    assert brand_page.status_code == 200 and "text/html" in brand_page.headers["content-type"]
    for make in BRANDS:
        assert f"data-make='{make}'" in brand_page.text
    sid_path = brand_page.text.split("action='")[1].split("'")[0]
    chosen = await http.post(sid_path, data={"make": "TESLA"})
    assert chosen.status_code == 303
    login = await http.get(chosen.headers["location"])
    assert "name='email'" in login.text and "name='password'" in login.text
    logged = await http.post(chosen.headers["location"], data={"email": "a@b.c", "password": "x"})
    grant = await http.get(logged.headers["location"])
    assert "id='allow'" in grant.text and "id='deny'" in grant.text
    for scope in ("read_vehicle_info", "control_security", "read_tires"):
        assert f"data-scope='{scope}'" in grant.text


@pytest.mark.asyncio
async def test_deny_and_connect_error_logins(client: SmartcarClient) -> None:
    denied = await asyncio.to_thread(walk_connect, _auth_url(client), decision="deny")
    query = parse_qs(urlsplit(denied).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-1"]
    for email, error in [
        ("smartcar@invalid-subscription.com", "invalid_subscription"),
        ("smartcar@vehicle-incompatible.com", "vehicle_incompatible"),
        ("smartcar@no-vehicles.com", "no_vehicles"),
    ]:
        with pytest.raises(ConnectRedirectError) as caught:
            await connect_code(client, email)
        assert caught.value.error == error and caught.value.operator_message


@pytest.mark.asyncio
async def test_vehicle_selection_rules(client: SmartcarClient, sim: RunningSimulator) -> None:
    owner = await connect(client, "Owner@Fleet.test")
    owned = (await client.list_vehicles(owner.access_token)).value
    assert owned.count == 3  # the three cars whose spec names this owner
    single = await connect(client, "anyone@x.test", single_select_vin="KNDJ23AU5M7000005")
    ids = (await client.list_vehicles(single.access_token)).value.vehicle_ids
    assert [sim.state.vehicles[v].spec.vin for v in ids] == ["KNDJ23AU5M7000005"]
    again = [
        (await client.list_vehicles((await connect(client, "x@y.z")).access_token)).value
        for _ in range(2)
    ]
    assert again[0].vehicle_ids == again[1].vehicle_ids  # deterministic default set
    with pytest.raises(ConnectRedirectError) as unknown_vin:
        await connect_code(client, "a@b.c", single_select_vin="1FADP3F20JL999999")
    assert unknown_vin.value.error == "configuration_error"


@pytest.mark.asyncio
async def test_codes_single_use_expiring_and_redirect_checked(
    client: SmartcarClient, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    code = await connect_code(client)
    await client.auth.exchange_code(code)
    with pytest.raises(OAuthTokenError) as reused:
        await client.auth.exchange_code(code)
    assert reused.value.error == "invalid_grant"
    late = await connect_code(client)
    clock.advance(601)
    with pytest.raises(OAuthTokenError):
        await client.auth.exchange_code(late)
    wrong_uri = await connect_code(client)
    answer = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": wrong_uri,
            "redirect_uri": "http://evil.test/cb",
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 400
    assert answer.json()["error_description"].startswith("Unauthorized redirect_uri")
    bad_client = await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(CLIENT_ID, "wrong"),
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"


@pytest.mark.asyncio
async def test_authorize_rejects_unknown_client_and_redirect(
    http: httpx.AsyncClient,
) -> None:
    unknown = await http.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
    )
    assert unknown.status_code == 400 and "text/html" in unknown.headers["content-type"]
    foreign = await http.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": "http://evil.test/",
        },
    )
    assert foreign.status_code == 400 and "Unauthorized redirect_uri" in foreign.text


@pytest.mark.asyncio
async def test_login_and_permission_pages_for_a_fleet_record_spelled_nissan() -> None:
    """The demo fleet spells makes "Nissan"; the pages must still name the brand once, and
    say what a combustion car cannot report instead of silently granting it."""
    qashqai = VehicleSpec(
        "JN1TANT32U0000007", "Nissan", "Qashqai", 2020, "ice", 52.5, 13.4, 1.0, "o@x.test"
    )
    config = SimulatorConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        vehicles=[qashqai],
        clock=FakeClock(),
    )
    sim = await start_simulator(config)
    try:
        origins = SmartcarOrigins.for_simulator(sim.base_url)
        creds = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
        async with (
            SmartcarClient(origins, creds) as client,
            httpx.AsyncClient(follow_redirects=False) as http,
        ):
            url = _auth_url(client, single_select_vin=qashqai.vin)
            login_at = (await http.get(url)).headers["location"]
            login = await http.get(sim.base_url + login_at)
            assert "Sign in with your Nissan account." in login.text
            assert "your your" not in login.text
            form = {"email": "o@x.test", "password": "x"}
            logged = await http.post(sim.base_url + login_at, data=form)
            grant = (await http.get(sim.base_url + logged.headers["location"])).text
        battery = grant.split("data-scope='read_battery'>")[1].split("</li>")[0]
        fuel = grant.split("data-scope='read_fuel'>")[1].split("</li>")[0]
        assert "nothing to report" in battery and "nothing to report" not in fuel
    finally:
        await sim.stop()
