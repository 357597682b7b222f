"""The simulator refuses bad input with the right error object, never a crash or plain text."""

from __future__ import annotations

import uuid

import httpx
import pytest

from app.integrations.smartcar import SmartcarClient
from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import CLIENT_ID, CLIENT_SECRET
from tests.integration.integrations.smartcar.helpers import connect


def _v2(answer: httpx.Response, status: int, type_: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["type"] == type_ and body["statusCode"] == status
    assert body["requestId"] == answer.headers["SC-Request-Id"]
    assert {"code", "description", "docURL", "resolution"} <= body.keys()
    return body


@pytest.mark.asyncio
async def test_missing_forged_and_malformed_tokens(
    http: httpx.AsyncClient, client: SmartcarClient, sim: RunningSimulator
) -> None:
    _v2(await http.get("/v2.0/vehicles"), 401, "AUTHENTICATION")
    _v2(
        await http.get("/v2.0/user", headers={"Authorization": "Bearer forged"}),
        401,
        "AUTHENTICATION",
    )
    _v2(
        await http.get("/v2.0/user", headers={"Authorization": "Basic Zm9vOmJhcg=="}),
        401,
        "AUTHENTICATION",
    )
    vid = next(iter(sim.state.vehicles))
    _v2(await http.get(f"/v2.0/vehicles/{vid}/odometer"), 401, "AUTHENTICATION")


@pytest.mark.asyncio
async def test_unknown_and_malformed_vehicle_ids_and_paths(
    http: httpx.AsyncClient, client: SmartcarClient
) -> None:
    auth = {"Authorization": f"Bearer {(await connect(client)).access_token}"}
    body = _v2(await http.get("/v2.0/vehicles/bad_id/odometer", headers=auth), 400, "VALIDATION")
    assert body["detail"][0]["field"] == "vehicle_id"
    _v2(
        await http.get(f"/v2.0/vehicles/{uuid.uuid4()}/odometer", headers=auth),
        401,
        "AUTHENTICATION",
    )
    _v2(await http.get("/v2.0/nothing-here", headers=auth), 404, "RESOURCE_NOT_FOUND")
    _v2(await http.get("/vJohnny/vehicles", headers=auth), 404, "RESOURCE_NOT_FOUND")
    _v2(await http.get("/v2.0/vehicles?limit=500", headers=auth), 400, "VALIDATION")
    _v2(await http.get("/v2.0/vehicles?limit=abc", headers=auth), 400, "VALIDATION")
    vid = (await http.get("/v2.0/vehicles", headers=auth)).json()["vehicles"][0]
    _v2(await http.get(f"/v2.0/vehicles/{vid}/teleport", headers=auth), 404, "RESOURCE_NOT_FOUND")
    _v2(
        await http.get(
            f"/v2.0/vehicles/{vid}/odometer", headers={**auth, "SC-Unit-System": "cubits"}
        ),
        400,
        "VALIDATION",
    )
    ok = await http.get(f"/v2.0/vehicles/{vid}/", headers=auth)  # SDK's trailing slash
    assert ok.status_code == 200 and ok.json()["id"] == vid


@pytest.mark.asyncio
async def test_bad_bodies(http: httpx.AsyncClient, client: SmartcarClient) -> None:
    auth = {"Authorization": f"Bearer {(await connect(client)).access_token}"}
    vid = (await http.get("/v2.0/vehicles", headers=auth)).json()["vehicles"][0]
    url = f"/v2.0/vehicles/{vid}"
    json_type = {**auth, "Content-Type": "application/json"}
    _v2(
        await http.post(f"{url}/security", content=b"{not json", headers=json_type),
        400,
        "VALIDATION",
    )
    _v2(
        await http.post(
            f"{url}/security",
            content=b'{"action":"LOCK"}',
            headers={**auth, "Content-Type": "text/plain"},
        ),
        400,
        "VALIDATION",
    )
    _v2(
        await http.post(f"{url}/security", json={"action": "EXPLODE"}, headers=auth),
        400,
        "VALIDATION",
    )
    _v2(await http.post(f"{url}/security", json=["LOCK"], headers=auth), 400, "VALIDATION")
    huge = b'{"requests": [' + b'{"path": "/odometer"},' * 5000 + b'{"path": "/vin"}]}'
    _v2(await http.post(f"{url}/batch", content=huge, headers=json_type), 413, "VALIDATION")
    _v2(
        await http.post(
            f"{url}/batch", json={"requests": [{"path": "/LOCATIONNNN"}]}, headers=auth
        ),
        400,
        "VALIDATION",
    )
    _v2(await http.post(f"{url}/batch", json={"requests": []}, headers=auth), 400, "VALIDATION")
    _v2(
        await http.post(f"{url}/batch", json={"requests": [{"path": 7}]}, headers=auth),
        400,
        "VALIDATION",
    )


@pytest.mark.asyncio
async def test_token_endpoint_bad_input(http: httpx.AsyncClient, client: SmartcarClient) -> None:
    creds = (CLIENT_ID, CLIENT_SECRET)
    no_auth = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "invalid_client"
    as_json = await http.post("/oauth/token", json={"grant_type": "refresh_token"}, auth=creds)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    weird = await http.post("/oauth/token", data={"grant_type": "password"}, auth=creds)
    assert weird.json()["error"] == "unsupported_grant_type"
    missing = await http.post("/oauth/token", data={"grant_type": "authorization_code"}, auth=creds)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    tokens = await connect(client)
    first = await http.post(
        "/oauth/token",
        auth=creds,
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
    )
    assert first.status_code == 200
    second = await http.post(
        "/oauth/token",
        auth=creds,
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
    )
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    huge = await http.post(
        "/oauth/token",
        auth=creds,
        content=b"a=" + b"x" * 70_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413 and huge.json()["error"] == "invalid_request"


@pytest.mark.asyncio
async def test_control_and_compatibility_bad_input(http: httpx.AsyncClient) -> None:
    assert (await http.post("/_sim/vehicles/NOPE/state", json={})).status_code == 404
    vin = "1FADP3F20JL000003"
    bad = await http.post(f"/_sim/vehicles/{vin}/state", json={"activity": "flying"})
    assert bad.status_code == 400 and "activity" in bad.json()["message"]
    assert (await http.post(f"/_sim/vehicles/{vin}/state", content=b"[")).status_code == 400
    assert (await http.post("/_sim/faults", json={"error_type": "NOPE"})).status_code == 400
    assert (await http.post("/_sim/faults", json={"error_type": 5})).status_code == 400
    _v2(
        await http.get("/v2.0/compatibility", params={"vin": vin, "scope": "read_vin"}),
        401,
        "AUTHENTICATION",
    )
    creds = (CLIENT_ID, CLIENT_SECRET)
    for params in ({"vin": "SHORT", "scope": "read_vin"}, {"vin": vin, "scope": "read_minds"}):
        _v2(await http.get("/v2.0/compatibility", params=params, auth=creds), 400, "VALIDATION")


@pytest.mark.asyncio
async def test_settings_faults_every_nth_and_clear(
    http: httpx.AsyncClient, client: SmartcarClient
) -> None:
    auth = {"Authorization": f"Bearer {(await connect(client)).access_token}"}
    vid = (await http.get("/v2.0/vehicles", headers=auth)).json()["vehicles"][0]
    answer = await http.post(
        "/_sim/faults",
        json={"error_type": "RATE_LIMIT", "error_code": "SMARTCAR_API", "every_nth": 2},
    )
    assert answer.status_code == 200
    codes = [
        (await http.get(f"/v2.0/vehicles/{vid}/odometer", headers=auth)).status_code
        for _ in range(4)
    ]
    assert codes == [200, 429, 200, 429]
    await http.post("/_sim/faults", json={})
    assert (await http.get(f"/v2.0/vehicles/{vid}/odometer", headers=auth)).status_code == 200


@pytest.mark.asyncio
async def test_a_car_can_be_parked_somewhere_and_a_bad_place_is_refused(
    http: httpx.AsyncClient,
) -> None:
    """The zone rules need a car standing in a chosen place (the shift walk parks one)."""
    vin = "1FADP3F20JL000003"
    for body in ({"lat": 52.5}, {"lat": 91.0, "lon": 13.4}, {"lat": "52", "lon": 13.4}):
        refused = await http.post(f"/_sim/vehicles/{vin}/state", json=body)
        assert refused.status_code == 400 and "lat and lon" in refused.json()["message"]
    parked = await http.post(
        f"/_sim/vehicles/{vin}/state", json={"activity": "parked", "lat": 52.52, "lon": 13.405}
    )
    assert (parked.json()["latitude"], parked.json()["longitude"]) == (52.52, 13.405)
