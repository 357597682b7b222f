"""Client edge cases a well-behaved server never produces; respx stands in for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import respx

from app.integrations.smartcar import DataKind, SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import (
    OAuthTokenError,
    RateLimitError,
    SmartcarApiError,
    SmartcarProtocolError,
    SmartcarTimeoutError,
    SmartcarTransportError,
    VehicleStateError,
)

API = "https://api.test"
ORIGINS = SmartcarOrigins(connect="https://connect.test", token_url="https://auth.test/t", api=API)
VID = "36ab27d0-fd9d-4455-823a-ce30af709ffc"
URL = f"{API}/v2.0/vehicles/{VID}"


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SmartcarClient]:
    async with SmartcarClient(ORIGINS, SmartcarCredentials("id", "secret", "app://cb")) as c:
        yield c


def _json(body: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.asyncio
@respx.mock
@pytest.mark.parametrize(
    ("response", "message"),
    [
        (
            httpx.Response(200, text="<html>hi</html>", headers={"content-type": "text/html"}),
            "expected JSON",
        ),
        (
            httpx.Response(200, content=b"{oops", headers={"content-type": "application/json"}),
            "malformed JSON",
        ),
        (_json([1, 2]), "expected a JSON object"),
        (_json({"latitude": "north", "longitude": 1}), "latitude"),
        (_json({"latitude": 91.0, "longitude": 1}), "out of range"),
        (_json({"latitude": True, "longitude": 1}), "latitude"),
        (
            httpx.Response(
                200,
                content=b'{"latitude": NaN, "longitude": 1}',
                headers={"content-type": "application/json"},
            ),
            "latitude",
        ),
        (
            httpx.Response(502, text="Bad gateway", headers={"content-type": "text/plain"}),
            "HTTP 502",
        ),
        (_json({"message": "not a smartcar error"}, 500), "without a Smartcar error object"),
    ],
)
async def test_malformed_answers_become_protocol_errors(
    client: SmartcarClient, response: httpx.Response, message: str
) -> None:
    respx.get(f"{URL}/location").mock(return_value=response)
    with pytest.raises(SmartcarProtocolError, match=message):
        await client.location(VID, "tok")


@pytest.mark.asyncio
@respx.mock
async def test_oversized_body_refused(client: SmartcarClient) -> None:
    respx.get(f"{URL}/vin").mock(return_value=_json({"vin": "x" * 3_000_000}))
    with pytest.raises(SmartcarProtocolError, match="larger than"):
        await client.vin(VID, "tok")


@pytest.mark.asyncio
@respx.mock
async def test_error_object_fields_and_retry_after(client: SmartcarClient) -> None:
    body = {
        "type": "RATE_LIMIT",
        "code": "VEHICLE",
        "description": "slow down",
        "statusCode": 429,
        "requestId": "body-id",
        "resolution": {"type": "RETRY_LATER"},
        "docURL": "https://doc",
    }
    respx.get(f"{URL}/odometer").mock(
        return_value=_json(body, 429, **{"Retry-After": "120", "SC-Request-Id": "hdr-id"})
    )
    with pytest.raises(RateLimitError) as caught:
        await client.odometer(VID, "tok")
    err = caught.value
    assert (err.retry_after, err.request_id, err.resolution.type) == (120, "hdr-id", "RETRY_LATER")
    assert err.description == "slow down" and str(err) == "RATE_LIMIT:VEHICLE - slow down"


@pytest.mark.asyncio
@respx.mock
async def test_unknown_error_type_and_string_resolution(client: SmartcarClient) -> None:
    body = {"type": "BRAND_NEW", "code": 7, "description": None, "resolution": "weird"}
    respx.get(f"{URL}/odometer").mock(return_value=_json(body, 418, **{"Retry-After": "soon"}))
    with pytest.raises(SmartcarApiError) as caught:
        await client.odometer(VID, "tok")
    err = caught.value
    assert type(err) is SmartcarApiError and err.code is None and err.retry_after is None
    assert err.resolution.type is None and err.status == 418


@pytest.mark.asyncio
@respx.mock
async def test_imperial_answers_are_converted_to_metric(client: SmartcarClient) -> None:
    respx.get(f"{URL}/odometer").mock(
        return_value=_json({"distance": 100.0}, **{"SC-Unit-System": "imperial"})
    )
    respx.get(f"{URL}/tires/pressure").mock(
        return_value=_json(
            {"frontLeft": 33.0, "frontRight": None, "backLeft": 33.0, "backRight": 33.0},
            **{"SC-Unit-System": "imperial"},
        )
    )
    assert (await client.odometer(VID, "t")).value.distance_km == pytest.approx(160.9344)
    tires = (await client.tire_pressure(VID, "t")).value
    assert tires.front_left_kpa == pytest.approx(227.5, abs=0.1)
    assert tires.front_right_kpa is None


@pytest.mark.asyncio
@respx.mock
async def test_batch_items_fail_independently(client: SmartcarClient) -> None:
    asleep = {"type": "VEHICLE_STATE", "code": "ASLEEP", "description": "zz", "statusCode": 409}
    respx.post(f"{URL}/batch").mock(
        return_value=_json(
            {
                "responses": [
                    {
                        "path": "/odometer",
                        "code": 200,
                        "body": {"distance": 5},
                        "headers": {"sc-data-age": "2024-01-01T00:00:00.000Z"},
                    },
                    {"path": "/location", "code": 409, "body": asleep, "headers": {}},
                    {"path": "/fuel", "code": 200, "body": {"percentRemaining": 7}},
                    {"path": "/unrequested", "code": 200, "body": {}},
                    "garbage",
                ]
            },
            **{"SC-Request-Id": "batch-1"},
        )
    )
    kinds = [DataKind.ODOMETER, DataKind.LOCATION, DataKind.FUEL, DataKind.VIN]
    result = await client.batch(VID, "t", kinds)
    odo = result.items[DataKind.ODOMETER].reading
    assert odo.value.distance_km == 5 and odo.meta.data_age.year == 2024
    assert odo.meta.request_id == "batch-1"
    loc_error = result.items[DataKind.LOCATION].error
    assert isinstance(loc_error, VehicleStateError) and loc_error.request_id == "batch-1"
    assert isinstance(result.items[DataKind.FUEL].error, SmartcarProtocolError)  # 7 > 1
    assert "no answer" in str(result.items[DataKind.VIN].error)


@pytest.mark.asyncio
@respx.mock
async def test_batch_without_responses_list(client: SmartcarClient) -> None:
    respx.post(f"{URL}/batch").mock(return_value=_json({"responses": {}}))
    with pytest.raises(SmartcarProtocolError, match="responses"):
        await client.read_snapshot(VID, "t")


@pytest.mark.asyncio
@respx.mock
async def test_transport_failures(client: SmartcarClient) -> None:
    respx.get(f"{URL}/vin").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(SmartcarTimeoutError):
        await client.vin(VID, "t")
    respx.get(f"{URL}/location").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(SmartcarTransportError) as caught:
        await client.location(VID, "t")
    assert not isinstance(caught.value, SmartcarTimeoutError)


@pytest.mark.asyncio
@respx.mock
async def test_paging_and_lists_validated(client: SmartcarClient) -> None:
    respx.get(f"{API}/v2.0/vehicles").mock(
        return_value=_json({"vehicles": ["a", 3], "paging": {"count": 1, "offset": 0}})
    )
    with pytest.raises(SmartcarProtocolError, match="list of strings"):
        await client.list_vehicles("t")
    respx.get(f"{URL}/permissions").mock(
        return_value=_json({"permissions": [], "paging": {"count": -1, "offset": 0}})
    )
    with pytest.raises(SmartcarProtocolError, match="paging"):
        await client.permissions(VID, "t")


@pytest.mark.asyncio
@respx.mock
async def test_token_endpoint_errors(client: SmartcarClient) -> None:
    route = respx.post("https://auth.test/t")
    route.mock(return_value=_json({"error": "invalid_client", "error_description": "no"}, 401))
    with pytest.raises(OAuthTokenError) as caught:
        await client.auth.exchange_code("c")
    assert (caught.value.error, caught.value.status) == ("invalid_client", 401)
    sent = route.calls.last.request
    assert sent.headers["authorization"].startswith("Basic ")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"redirect_uri=app%3A%2F%2Fcb" in sent.content
    route.mock(return_value=_json({"access_token": "a", "expires_in": 7200}))
    with pytest.raises(SmartcarProtocolError, match="refresh_token"):
        await client.auth.refresh("r")
    route.mock(return_value=httpx.Response(500, text="boom", headers={"content-type": "text/html"}))
    with pytest.raises(SmartcarProtocolError):
        await client.auth.refresh("r")
