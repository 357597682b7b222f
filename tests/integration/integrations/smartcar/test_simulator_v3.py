"""API V3 over real sockets: application token, connections, signals, commands, errors."""

from __future__ import annotations

import base64

import httpx
import pytest

from app.integrations.smartcar.simulator import RunningSimulator
from app.integrations.smartcar.simulator.state import BATTERY_KWH
from tests.integration.integrations.smartcar.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT
from tests.integration.integrations.smartcar.v3_helpers import (
    BMW_VIN,
    FORD_VIN,
    TESLA_VIN,
    app_token,
    assert_envelope,
    auth,
    connect_user,
    vid,
)

CREDS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
CC = {"grant_type": "client_credentials"}


# -- token ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_token_accepts_form_json_and_basic(http: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    answers = [
        await http.post("/oauth2/token", data={**CC, **CREDS}),
        await http.post("/oauth2/token", json={**CC, **CREDS}),
        await http.post("/oauth2/token", data=CC, headers={"Authorization": f"Basic {basic}"}),
        await http.post("/oauth2/token", json=CC, headers={"Authorization": f"Basic {basic}"}),
    ]
    tokens = set()
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh token
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
        tokens.add(body["access_token"])
        listing = await http.get("/v3/connections", headers=auth(body["access_token"]))
        assert listing.status_code == 200
    assert len(tokens) == 4


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": CREDS}, 400, "invalid_request"),  # no grant_type
        (
            {"content": b"grant_type=x", "headers": {"Content-Type": "text/plain"}},
            400,
            "invalid_request",
        ),
        (
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "invalid_request",
        ),
        ({"data": {**CC, "client_id": CLIENT_ID}}, 400, "invalid_request"),  # no secret
        ({"data": {"grant_type": "authorization_code", **CREDS}}, 400, "unsupported_grant_type"),
        ({"json": {**CC, "client_id": CLIENT_ID, "client_secret": "wrong"}}, 401, "invalid_client"),
    ],
)
@pytest.mark.asyncio
async def test_token_errors_are_oauth_shaped(
    http: httpx.AsyncClient, kwargs: dict, status: int, error: str
) -> None:
    answer = await http.post("/oauth2/token", **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


@pytest.mark.asyncio
async def test_expire_control_route_expires_app_tokens(http: httpx.AsyncClient) -> None:
    token = await app_token(http)
    assert (await http.get("/v3/connections", headers=auth(token))).status_code == 200
    expired = (await http.post("/_sim/tokens/expire")).json()
    assert expired["expired_app_tokens"] == 1
    assert_envelope(
        await http.get("/v3/connections", headers=auth(token)), 401, "AUTHENTICATION", None
    )


# -- connections ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_redirect_names_user_and_connections_page(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    owner = await connect_user(sim)  # owns the Tesla, the BMW and the Ford
    other = await connect_user(sim, email="driver@example.com")
    assert owner.user_id != other.user_id and owner.code
    token = await app_token(http)

    everything = (await http.get("/v3/connections", headers=auth(token))).json()
    assert everything["meta"] == {
        "pageNumber": 1,
        "pageSize": 10,
        "totalCount": 5,  # 3 owned + the 2 unowned cars of the fleet
        "orderBy": "createdAt",
        "orderDirection": "DESC",
    }
    # newest first: the second login's connections lead
    assert everything["data"][0]["attributes"]["user"]["id"] == other.user_id

    first = await http.get(
        "/v3/connections",
        params={"filter[userId]": owner.user_id, "page[size]": "2"},
        headers=auth(token),
    )
    page1 = first.json()
    assert [c["attributes"]["user"]["id"] for c in page1["data"]] == [owner.user_id] * 2
    assert page1["meta"]["totalCount"] == 3 and page1["links"]["prev"] is None
    assert page1["links"]["next"] and page1["links"]["last"] == page1["links"]["next"]
    page2 = (await http.get(page1["links"]["next"], headers=auth(token))).json()
    assert len(page2["data"]) == 1 and page2["links"]["next"] is None
    assert page2["links"]["prev"] and page2["meta"]["pageNumber"] == 2
    ids = {c["relationships"]["vehicle"]["data"]["id"] for c in page1["data"] + page2["data"]}
    assert ids == {vid(sim, v) for v in (TESLA_VIN, BMW_VIN, FORD_VIN)}

    conn = page2["data"][0]
    assert conn["type"] == "connection"
    assert conn["attributes"]["vehicle"]["mode"] == "simulated"
    assert conn["attributes"]["vehicle"]["powertrainType"] in ("ICE", "BEV", "PHEV")
    assert "read_location" in conn["attributes"]["permissions"]
    assert conn["relationships"]["user"]["data"] == {"id": owner.user_id, "type": "user"}
    assert conn["meta"]["createdAt"].endswith("Z")
    assert conn["links"]["self"] == f"{sim.base_url}/v3/connections/{conn['id']}"

    tesla = vid(sim, TESLA_VIN)
    by_vehicle = await http.get(
        "/v3/connections", params={"filter[vehicleId]": tesla}, headers=auth(token)
    )
    assert [c["relationships"]["vehicle"]["data"]["id"] for c in by_vehicle.json()["data"]] == [
        tesla
    ]
    nobody = await http.get(
        "/v3/connections", params={"filter[userId]": "nobody"}, headers=auth(token)
    )
    assert nobody.json()["data"] == [] and nobody.json()["links"]["next"] is None
    bad = await http.get("/v3/connections", params={"page[size]": "0"}, headers=auth(token))
    assert_envelope(bad, 400, "VALIDATION", "PARAMETER")

    one = await http.get(f"/v3/connections/{conn['id']}", headers=auth(token))
    assert one.json() == {"data": conn}


@pytest.mark.asyncio
async def test_reconnect_reuses_connection_and_delete_disconnects(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    first = await connect_user(sim, scopes=["read_vehicle_info", "read_odometer"])
    token = await app_token(http)
    tesla = vid(sim, TESLA_VIN)
    listed = await http.get(
        "/v3/connections", params={"filter[vehicleId]": tesla}, headers=auth(token)
    )
    before = listed.json()["data"][0]
    again = await connect_user(sim, scopes=["read_vehicle_info", "read_odometer", "read_vin"])
    assert again.user_id == first.user_id
    listed = await http.get(
        "/v3/connections", params={"filter[vehicleId]": tesla}, headers=auth(token)
    )
    after = listed.json()["data"]
    assert len(after) == 1 and after[0]["id"] == before["id"]
    assert "read_vin" in after[0]["attributes"]["permissions"]

    headers = auth(token, first.user_id)
    assert (await http.get(f"/v3/vehicles/{tesla}", headers=headers)).status_code == 200
    gone = await http.delete(f"/v3/connections/{before['id']}", headers=auth(token))
    assert gone.status_code == 204
    assert_envelope(
        await http.get(f"/v3/vehicles/{tesla}", headers=headers), 404, "RESOURCE_NOT_FOUND", "PATH"
    )
    again_gone = await http.delete(f"/v3/connections/{before['id']}", headers=auth(token))
    assert_envelope(again_gone, 404, "RESOURCE_NOT_FOUND", "PATH")

    removed = await http.delete(f"/v3/users/{first.user_id}", headers=auth(token))
    assert removed.status_code == 204
    ford = vid(sim, FORD_VIN)
    assert_envelope(
        await http.get(f"/v3/vehicles/{ford}", headers=headers), 404, "RESOURCE_NOT_FOUND", "PATH"
    )
    unknown = await http.delete(f"/v3/users/{first.user_id}", headers=auth(token))
    assert_envelope(unknown, 404, "RESOURCE_NOT_FOUND", "PATH")


# -- vehicles and signals ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_vehicle_attributes_wrapped(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    tesla = vid(sim, TESLA_VIN)
    for path in (f"/v3/vehicles/{tesla}", f"/v3/vehicles/{tesla}/"):
        answer = await http.get(path, headers=auth(token, user.user_id))
        assert answer.status_code == 200
        assert answer.json() == {
            "data": {
                "id": tesla,
                "type": "vehicle",
                "attributes": {
                    "make": "TESLA",
                    "model": "Model 3",
                    "year": 2019,
                    "mode": "simulated",
                    "powertrainType": "BEV",
                },
                "links": {"self": f"{sim.base_url}/v3/vehicles/{tesla}"},
            }
        }


@pytest.mark.asyncio
async def test_signals_of_a_bev_with_per_signal_errors(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    scopes = ["read_vehicle_info", "read_battery", "read_fuel", "read_charge", "read_security"]
    user = await connect_user(sim, scopes=scopes)
    token = await app_token(http)
    tesla = vid(sim, TESLA_VIN)
    answer = await http.get(f"/v3/vehicles/{tesla}/signals", headers=auth(token, user.user_id))
    assert answer.status_code == 200
    body = answer.json()
    n = len(body["data"])
    assert n == 23
    assert body["meta"] == {"page": 1, "pageNumber": 1, "pageSize": n, "totalCount": n}
    assert body["included"]["vehicle"]["attributes"]["powertrainType"] == "BEV"
    assert body["links"]["self"].endswith(f"/v3/vehicles/{tesla}/signals")
    signals = {s["id"]: s for s in body["data"]}

    soc = signals["tractionbattery-stateofcharge"]
    assert soc["type"] == "signal"
    assert soc["attributes"]["code"] == "tractionbattery-stateofcharge"
    assert (soc["attributes"]["name"], soc["attributes"]["group"]) == (
        "StateOfCharge",
        "TractionBattery",
    )
    assert soc["attributes"]["status"] == {"value": "SUCCESS"}
    expected = round(sim.state.vehicles[tesla].battery_fraction * 100, 1)
    assert soc["attributes"]["body"] == {"value": expected, "unit": "percent"}
    assert 0 < expected <= 100
    assert soc["meta"]["retrievedAt"] >= soc["meta"]["oemUpdatedAt"] > 1e12  # epoch ms
    assert soc["links"]["self"].endswith("/signals/tractionbattery-stateofcharge")
    capacity = signals["tractionbattery-nominalcapacity"]["attributes"]["body"]
    assert capacity == {
        "capacity": BATTERY_KWH["bev"],
        "source": "SMARTCAR",
        "availableCapacities": [],
        "unit": "kWh",
    }
    doors = signals["closure-doors"]["attributes"]["body"]
    assert (doors["rowCount"], doors["columnCount"], len(doors["values"])) == (2, 2, 4)
    assert {(d["row"], d["column"]) for d in doors["values"]} == {(0, 0), (0, 1), (1, 0), (1, 1)}

    fuel = signals["internalcombustionengine-fuellevel"]["attributes"]
    assert "body" not in fuel
    assert fuel["status"] == {
        "value": "ERROR",
        "error": {
            "type": "COMPATIBILITY",
            "code": "VEHICLE_NOT_CAPABLE",
            "title": "Vehicle Not Capable",
            "detail": "The vehicle is incapable of performing your request.",
            "description": "Deprecated. Use detail",
            "resolution": {"type": "UNKNOWN_RESOLUTION_TYPE"},
        },
    }
    location = signals["location-preciselocation"]["attributes"]
    assert "body" not in location
    error = location["status"]["error"]
    assert (error["type"], error["code"], error["resolution"]) == (
        "PERMISSION",
        "UNKNOWN",
        {"type": "REAUTHENTICATE"},
    )
    assert signals["connectivitystatus-isonline"]["attributes"]["body"] == {"value": True}


@pytest.mark.asyncio
async def test_ice_signal_bodies_follow_state(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    ford = vid(sim, FORD_VIN)
    state = {"activity": "parked", "open_doors": ["frontRight", "rear"], "locked": False}
    assert (await http.post(f"/_sim/vehicles/{FORD_VIN}/state", json=state)).status_code == 200
    answer = await http.get(f"/v3/vehicles/{ford}/signals", headers=auth(token, user.user_id))
    signals = {s["id"]: s["attributes"] for s in answer.json()["data"]}
    car = sim.state.vehicles[ford]
    assert signals["odometer-traveleddistance"]["body"] == {
        "value": round(car.odometer_km, 2),
        "unit": "km",
    }
    assert signals["internalcombustionengine-fuellevel"]["body"]["value"] == round(
        car.fuel_fraction * 100, 1
    )
    assert signals["internalcombustionengine-amountremaining"]["body"]["unit"] == "liters"
    assert signals["internalcombustionengine-oillife"]["body"]["unit"] == "percent"
    assert signals["tractionbattery-stateofcharge"]["status"]["error"]["code"] == (
        "VEHICLE_NOT_CAPABLE"
    )
    assert signals["charge-ischarging"]["status"]["value"] == "ERROR"
    location = signals["location-preciselocation"]["body"]
    assert location["locationType"] == "CURRENT"
    assert location["direction"] in ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    doors = {(d["row"], d["column"]): d for d in signals["closure-doors"]["body"]["values"]}
    assert doors[(0, 1)]["isOpen"] is True and doors[(0, 0)]["isOpen"] is False
    assert doors[(0, 0)]["isLocked"] is False
    assert signals["closure-reartrunk"]["body"] == {"isOpen": True, "isLocked": False}
    assert signals["closure-islocked"]["body"] == {"value": False}
    tires = signals["wheel-tires"]["body"]
    assert tires["unit"] == "kPa" and all(200 < t["tirePressure"] < 260 for t in tires["values"])
    assert signals["vehicleidentification-vin"]["body"] == {"value": FORD_VIN}


@pytest.mark.asyncio
async def test_single_signal_wrapped_and_unknown_code(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    bmw = vid(sim, BMW_VIN)
    headers = auth(token, user.user_id)
    answer = await http.get(f"/v3/vehicles/{bmw}/signals/charge-chargelimits", headers=headers)
    body = answer.json()
    assert set(body) == {"data", "included"}
    assert body["data"]["id"] == "charge-chargelimits"
    limit = round(sim.state.vehicles[bmw].charge_limit * 100)
    assert body["data"]["attributes"]["body"] == {
        "values": [{"type": "GLOBAL", "limit": limit, "condition": None}],
        "activeLimit": limit,
        "unit": "percent",
    }
    assert body["included"]["vehicle"]["id"] == bmw
    unknown = await http.get(f"/v3/vehicles/{bmw}/signals/charge-flux", headers=headers)
    assert_envelope(unknown, 404, "RESOURCE_NOT_FOUND", "PATH")


@pytest.mark.asyncio
async def test_v2_token_works_without_user_header(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    exchanged = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": user.code, "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    access = exchanged.json()["access_token"]
    tesla = vid(sim, TESLA_VIN)
    answer = await http.get(f"/v3/vehicles/{tesla}/signals", headers=auth(access))
    assert answer.status_code == 200 and len(answer.json()["data"]) == 23
    other = await connect_user(sim, email="driver@example.com")
    exchanged = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": other.code, "redirect_uri": REDIRECT},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    not_theirs = await http.get(
        f"/v3/vehicles/{tesla}", headers=auth(exchanged.json()["access_token"])
    )
    assert_envelope(not_theirs, 404, "RESOURCE_NOT_FOUND", "PATH")


# -- commands ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_commands_change_state_and_answer_executions(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    bmw = vid(sim, BMW_VIN)
    car = sim.state.vehicles[bmw]
    headers = auth(token, user.user_id)
    state = {"activity": "parked", "plugged_in": True, "open_doors": []}
    await http.post(f"/_sim/vehicles/{BMW_VIN}/state", json=state)

    async def run(path: str, body: object = None) -> dict:
        answer = await http.post(f"/v3/vehicles/{bmw}/commands/{path}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert data["id"].startswith("exec_") and data["type"] == "command-execution"
        assert data["attributes"]["status"] == {"value": "SUCCESS"}
        assert data["attributes"]["executionMode"] == "sync"
        assert data["meta"]["executedAt"].endswith("Z")
        assert data["meta"]["completedAt"].endswith("Z")
        assert data["meta"]["durationInSeconds"] == 0
        return dict(data["attributes"])

    assert (await run("security/unlock"))["commandType"] == "security-unlock"
    assert car.locked is False
    lock = await run("security/lock", {})
    assert lock["commandType"] == "security-lock" and "parameters" not in lock
    assert car.locked is True
    assert (await run("charge/start"))["commandType"] == "charge-start"
    assert car.activity == "charging"
    assert (await run("charge/stop"))["commandType"] == "charge-stop"
    assert car.activity == "parked"
    limit = await run("charge/set-limit", {"data": {"attributes": {"percent": 70}}})
    assert limit["commandType"] == "charge-set-limit"
    assert limit["parameters"] == {"percent": 70}
    assert car.charge_limit == pytest.approx(0.7)

    for bad in ({"data": {"attributes": {"percent": 30}}}, {"percent": 80}, {}):
        refused = await http.post(
            f"/v3/vehicles/{bmw}/commands/charge/set-limit", json=bad, headers=headers
        )
        assert_envelope(refused, 400, "VALIDATION", "PARAMETER")
    unknown = await http.post(f"/v3/vehicles/{bmw}/commands/charge/boost", headers=headers)
    assert_envelope(unknown, 404, "RESOURCE_NOT_FOUND", "PATH")


@pytest.mark.asyncio
async def test_failing_commands_use_the_envelope(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    headers = auth(token, user.user_id)
    bmw, ford = vid(sim, BMW_VIN), vid(sim, FORD_VIN)
    await http.post(f"/_sim/vehicles/{BMW_VIN}/state", json={"activity": "parked"})
    await http.post(f"/_sim/vehicles/{BMW_VIN}/state", json={"plugged_in": False})
    unplugged = await http.post(f"/v3/vehicles/{bmw}/commands/charge/start", headers=headers)
    error = assert_envelope(unplugged, 409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")
    assert error["title"] == "Charging Plug Not Connected"
    not_capable = await http.post(
        f"/v3/vehicles/{ford}/commands/charge/set-limit",
        json={"data": {"attributes": {"percent": 80}}},
        headers=headers,
    )
    assert_envelope(not_capable, 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    await http.post(f"/_sim/vehicles/{FORD_VIN}/state", json={"activity": "parked", "asleep": True})
    asleep = await http.post(f"/v3/vehicles/{ford}/commands/security/lock", headers=headers)
    assert_envelope(asleep, 409, "VEHICLE_STATE", "ASLEEP")

    reader = await connect_user(sim, scopes=["read_vehicle_info", "read_security"])
    forbidden = await http.post(
        f"/v3/vehicles/{bmw}/commands/security/lock", headers=auth(token, reader.user_id)
    )
    error = assert_envelope(forbidden, 403, "PERMISSION", None)
    assert error["resolution"] == {"type": "REAUTHENTICATE"}


# -- errors and gates ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_error_envelope_for_auth_paths_methods_and_size(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    tesla = vid(sim, TESLA_VIN)
    assert_envelope(await http.get(f"/v3/vehicles/{tesla}/signals"), 401, "AUTHENTICATION", None)
    assert_envelope(
        await http.get(f"/v3/vehicles/{tesla}", headers=auth("bogus", user.user_id)),
        401,
        "AUTHENTICATION",
        None,
    )
    assert_envelope(
        await http.get("/v3/connections", headers=auth("sim-management-token")),
        401,
        "AUTHENTICATION",
        None,
    )
    missing = await http.get(f"/v3/vehicles/{tesla}", headers=auth(token))
    assert_envelope(missing, 400, "VALIDATION", "MISSING_HEADER")
    malformed = await http.get("/v3/vehicles/not-a-uuid", headers=auth(token, user.user_id))
    assert_envelope(malformed, 400, "VALIDATION", "PARAMETER")
    stranger = await http.get(f"/v3/vehicles/{tesla}", headers=auth(token, "someone-else"))
    assert_envelope(stranger, 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_envelope(await http.get("/v3/nothing-here"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_envelope(await http.put("/v3/connections"), 405, "RESOURCE_NOT_FOUND", "PATH")
    huge = await http.post(
        f"/v3/vehicles/{tesla}/commands/security/lock",
        content=b"{" + b" " * (70 * 1024) + b"}",
        headers={**auth(token, user.user_id), "Content-Type": "application/json"},
    )
    assert_envelope(huge, 413, "VALIDATION", None)


@pytest.mark.asyncio
async def test_faults_latency_and_rate_limit_apply_to_v3(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    user = await connect_user(sim)
    token = await app_token(http)
    ford = vid(sim, FORD_VIN)
    headers = auth(token, user.user_id)
    fault = {"error_type": "UPSTREAM", "error_code": "NO_RESPONSE"}
    assert (await http.post("/_sim/faults", json=fault)).status_code == 200
    failed = await http.get(f"/v3/vehicles/{ford}/signals", headers=headers)
    error = assert_envelope(failed, 502, "UPSTREAM", "NO_RESPONSE")
    assert error["resolution"] == {"type": "RETRY_LATER"}
    static = await http.get(f"/v3/vehicles/{ford}", headers=headers)
    assert static.status_code == 200  # attributes come from Smartcar's records
    await http.post("/_sim/faults", json={})

    magic = await connect_user(sim, email="VEHICLE_STATE.ASLEEP@x.test")
    conn = (
        await http.get(
            "/v3/connections", params={"filter[userId]": magic.user_id}, headers=auth(token)
        )
    ).json()["data"][0]
    car = conn["relationships"]["vehicle"]["data"]["id"]
    forced = await http.get(f"/v3/vehicles/{car}/signals", headers=auth(token, magic.user_id))
    assert_envelope(forced, 409, "VEHICLE_STATE", "ASLEEP")

    statuses = []
    for _ in range(45):  # the fixture's bucket holds 40
        answer = await http.get(f"/v3/vehicles/{ford}", headers=headers)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert_envelope(answer, 429, "RATE_LIMIT", "VEHICLE")
            assert int(answer.headers["Retry-After"]) >= 1
            break
    assert statuses[-1] == 429 and len(statuses) > 30
