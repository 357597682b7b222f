"""V3 client edge cases a well-behaved server never produces; respx stands in for it.

The happy paths run against the simulator over real sockets
(``tests/integration/integrations/smartcar/test_client_v3_e2e.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import respx

from app.integrations.smartcar import DataKind, SmartcarClient, SmartcarCredentials
from app.integrations.smartcar.config import SmartcarOrigins
from app.integrations.smartcar.errors import (
    ApplicationCredentialsError,
    CompatibilityError,
    OAuthTokenError,
    PermissionDeniedError,
    SmartcarProtocolError,
    VehicleStateError,
)

BASE = "https://sc.test"
ORIGINS = SmartcarOrigins.for_simulator(BASE)
VID = "36ab27d0-fd9d-4455-823a-ce30af709ffc"
USER = "218eda3b-0656-49a8-8f3d-360cdad07334"
SIGNALS = f"{BASE}/v3/vehicles/{VID}/signals"


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SmartcarClient]:
    credentials = SmartcarCredentials("client_abc", "s3cret", "app://cb")
    async with SmartcarClient(ORIGINS, credentials, api_version="3") as c:
        yield c


def _token(value: str = "app-token", expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in}
    )


def _signal(code: str, body: object, ok: bool = True, **meta: object) -> dict[str, object]:
    status: dict[str, object] = {"value": "SUCCESS"}
    if not ok:
        status = {
            "value": "ERROR",
            "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
        }
    attributes: dict[str, object] = {"code": code, "status": status}
    if body is not None:
        attributes["body"] = body
    return {"id": code, "type": "signal", "attributes": attributes, "meta": meta}


def _signals(*items: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json={"data": list(items), "meta": {"pageNumber": 1}})


@pytest.mark.asyncio
@respx.mock
async def test_many_callers_share_one_token_request(client: SmartcarClient) -> None:
    token_route = respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    respx.get(SIGNALS).mock(return_value=_signals(_signal("closure-islocked", {"value": True})))

    results = await asyncio.gather(*(client.lock_status(VID, USER) for _ in range(20)))

    assert all(r.value.is_locked for r in results)
    assert token_route.call_count == 1
    sent = token_route.calls[0].request
    form = dict(x.split("=") for x in sent.content.decode().split("&"))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "client_abc",
        "client_secret": "s3cret",
    }
    request = respx.calls[-1].request
    assert request.headers["authorization"] == "Bearer app-token"
    assert request.headers["sc-user-id"] == USER


@pytest.mark.asyncio
@respx.mock
async def test_token_renewed_before_expiry_and_after_a_401(client: SmartcarClient) -> None:
    tokens = iter([_token("t1", expires_in=60), _token("t2"), _token("t3")])
    token_route = respx.post(f"{BASE}/oauth2/token").mock(side_effect=lambda r: next(tokens))
    refused = httpx.Response(
        401, json={"errors": [{"status": "401", "type": "AUTHENTICATION", "code": None}]}
    )
    ok = _signals(_signal("closure-islocked", {"value": False}))
    respx.get(SIGNALS).mock(side_effect=[ok, refused, ok])

    await client.lock_status(VID, USER)  # t1: lives 60 s, renewed at once (half its life)
    assert client.app_tokens is not None
    client.app_tokens._token = ("t1", 0.0)  # as if its renewal time had passed
    reading = await client.lock_status(VID, USER)  # t2 refused -> t3 -> ok

    assert reading.value.is_locked is False
    assert token_route.call_count == 3
    assert [
        c.request.headers["authorization"] for c in respx.calls if "signals" in str(c.request.url)
    ] == [
        "Bearer t1",
        "Bearer t2",
        "Bearer t3",
    ]


@pytest.mark.asyncio
@respx.mock
async def test_token_endpoint_401_and_garbage_are_clear_errors(client: SmartcarClient) -> None:
    route = respx.post(f"{BASE}/oauth2/token")
    route.mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(ApplicationCredentialsError, match="invalid_client"):
        await client.lock_status(VID, USER)
    route.mock(
        return_value=httpx.Response(200, text="<html>", headers={"content-type": "text/html"})
    )
    with pytest.raises(SmartcarProtocolError, match="expected JSON"):
        await client.lock_status(VID, USER)
    route.mock(return_value=httpx.Response(200, json={"access_token": "x", "token_type": "mac"}))
    with pytest.raises(SmartcarProtocolError, match="Bearer"):
        await client.lock_status(VID, USER)
    route.mock(return_value=httpx.Response(400, json={"error": "invalid_request"}))
    with pytest.raises(OAuthTokenError, match="invalid_request"):
        await client.lock_status(VID, USER)


@pytest.mark.asyncio
@respx.mock
async def test_a_second_401_is_the_applications_problem(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    refused = httpx.Response(
        401, json={"errors": [{"status": "401", "type": "AUTHENTICATION", "code": None}]}
    )
    respx.get(SIGNALS).mock(return_value=refused)
    with pytest.raises(ApplicationCredentialsError):
        await client.lock_status(VID, USER)


@pytest.mark.asyncio
@respx.mock
async def test_error_envelope_becomes_the_typed_error(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    body = {
        "errors": [
            {
                "status": "409",
                "type": "VEHICLE_STATE",
                "code": "ASLEEP",
                "title": "Asleep",
                "detail": "The vehicle is asleep.",
                "links": {"about": "https://smartcar.com/docs/errors/asleep"},
                "resolution": {"type": "RETRY_LATER"},
            }
        ]
    }
    respx.post(f"{BASE}/v3/vehicles/{VID}/commands/security/unlock").mock(
        return_value=httpx.Response(409, json=body, headers={"sc-request-id": "req-1"})
    )
    with pytest.raises(VehicleStateError) as caught:
        await client.unlock(VID, USER)
    error = caught.value
    assert (error.status, error.code, error.description) == (
        409,
        "ASLEEP",
        "The vehicle is asleep.",
    )
    assert error.resolution.type == "RETRY_LATER"
    assert error.request_id == "req-1"
    assert error.doc_url == "https://smartcar.com/docs/errors/asleep"


@pytest.mark.asyncio
@pytest.mark.expect_log("app.integrations.smartcar.v3_signals", match="unknown unit 'furlongs'")
@respx.mock
async def test_each_signal_fails_on_its_own(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    respx.get(SIGNALS).mock(
        return_value=_signals(
            _signal("location-preciselocation", {"latitude": 52.5, "longitude": 13.4}),
            # a failed signal with a stale body: the body must not be used
            _signal(
                "internalcombustionengine-fuellevel", {"value": 80, "unit": "percent"}, ok=False
            ),
            _signal("tractionbattery-stateofcharge", {"value": 57, "unit": "percent"}),
            _signal("odometer-traveleddistance", {"value": 100, "unit": "miles"}),
            _signal(
                "wheel-tires",
                {"values": [{"row": 0, "column": 0, "tirePressure": 2.4}], "unit": "bar"},
            ),
            _signal("internalcombustionengine-oillife", {"value": 35, "unit": "furlongs"}),
        )
    )
    snapshot = await client.read_snapshot(
        VID,
        USER,
        (
            DataKind.LOCATION,
            DataKind.FUEL,
            DataKind.BATTERY,
            DataKind.ODOMETER,
            DataKind.TIRE_PRESSURE,
            DataKind.ENGINE_OIL,
            DataKind.LOCK_STATUS,
        ),
    )
    assert snapshot.location is not None and snapshot.location.latitude == 52.5
    assert snapshot.fuel is None and isinstance(snapshot.errors[DataKind.FUEL], CompatibilityError)
    assert snapshot.battery is not None and snapshot.battery.percent_remaining == pytest.approx(
        0.57
    )
    assert snapshot.odometer is not None and snapshot.odometer.distance_km == pytest.approx(
        160.9344
    )
    assert (
        snapshot.tire_pressure is not None
        and snapshot.tire_pressure.front_left_kpa == pytest.approx(240)
    )
    # an unknown unit fails that reading instead of storing a wrong number
    assert snapshot.engine_oil is None
    assert "unknown unit" in str(snapshot.errors[DataKind.ENGINE_OIL])
    # absent from the answer altogether: reported as not capable (the poll drops it)
    assert isinstance(snapshot.errors[DataKind.LOCK_STATUS], CompatibilityError)


@pytest.mark.asyncio
@respx.mock
async def test_timestamps_as_epoch_ms_or_iso(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    respx.get(SIGNALS).mock(
        return_value=_signals(
            _signal("closure-islocked", {"value": True}, oemUpdatedAt=1752104118549),
            _signal(
                "tractionbattery-stateofcharge",
                {"value": 5, "unit": "percent"},
                oemUpdatedAt="2026-06-21T02:56:21.130Z",
            ),
        )
    )
    snapshot = await client.read_snapshot(VID, USER, (DataKind.LOCK_STATUS, DataKind.BATTERY))
    assert (
        snapshot.data_ages[DataKind.LOCK_STATUS].isoformat() == "2025-07-09T23:35:18.549000+00:00"
    )
    assert snapshot.data_ages[DataKind.BATTERY].isoformat() == "2026-06-21T02:56:21.130000+00:00"


@pytest.mark.asyncio
@respx.mock
async def test_permission_errors_and_wrapped_or_bare_vehicle(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    denied = {
        "id": "location-preciselocation",
        "attributes": {
            "code": "location-preciselocation",
            "status": {
                "value": "ERROR",
                "error": {
                    "type": "PERMISSION",
                    "code": "UNKNOWN",
                    "resolution": {"type": "REAUTHENTICATE"},
                },
            },
        },
    }
    respx.get(SIGNALS).mock(return_value=_signals(denied))
    with pytest.raises(PermissionDeniedError) as caught:
        await client.location(VID, USER)
    assert caught.value.needs_reauthentication

    vehicle = {
        "id": VID,
        "type": "vehicle",
        "attributes": {"make": "TESLA", "model": "Model 3", "year": 2019},
    }
    route = respx.get(f"{BASE}/v3/vehicles/{VID}")
    for body in (vehicle, {"data": vehicle}):
        route.mock(return_value=httpx.Response(200, json=body))
        attributes = (await client.attributes(VID, USER)).value
        assert (attributes.make, attributes.model, attributes.year) == ("TESLA", "Model 3", 2019)


@pytest.mark.asyncio
@respx.mock
async def test_connections_walk_every_page(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page[number]"])
        item = {
            "id": f"conn-{number}",
            "type": "connection",
            "attributes": {
                "permissions": ["read_vin"],
                "vehicle": {"make": "BMW", "model": "i3", "year": 2020},
            },
            "relationships": {
                "vehicle": {"data": {"id": f"veh-{number}", "type": "vehicle"}},
                "user": {"data": {"id": USER, "type": "user"}},
            },
        }
        following = None if number == 3 else f"{BASE}/v3/connections?page%5Bnumber%5D={number + 1}"
        return httpx.Response(200, json={"data": [item], "links": {"next": following}})

    route = respx.get(f"{BASE}/v3/connections").mock(side_effect=page)
    found = await client.v3.connections(user_id=USER)
    assert [c.vehicle_id for c in found] == ["veh-1", "veh-2", "veh-3"]
    assert route.calls[0].request.url.params["filter[userId]"] == USER


@pytest.mark.asyncio
@respx.mock
async def test_set_charge_limit_sends_a_percentage(client: SmartcarClient) -> None:
    respx.post(f"{BASE}/oauth2/token").mock(return_value=_token())
    route = respx.post(f"{BASE}/v3/vehicles/{VID}/commands/charge/set-limit").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": {
                    "id": "exec_1",
                    "type": "command-execution",
                    "attributes": {
                        "commandType": "charge-set-limit",
                        "status": {"value": "SUCCESS"},
                    },
                }
            },
        )
    )
    execution = await client.v3.command(VID, USER, "set_charge_limit", 80)
    assert execution.status == "SUCCESS"
    assert json.loads(route.calls[0].request.content) == {"data": {"attributes": {"percent": 80}}}
    with pytest.raises(ValueError):
        await client.v3.command(VID, USER, "set_charge_limit", 101)
