"""Management API V3 and webhook delivery over real sockets, driven by ``tick()`` (no sleeps).

The receiver is a tiny aiohttp server on 127.0.0.1 that records raw bodies and headers; every
delivery's ``SC-Signature`` is checked with ``hmac`` over those raw bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import FakeClock, start_test_simulator
from tests.integration.integrations.smartcar.v3_helpers import (
    BMW_VIN,
    FORD_VIN,
    TESLA_VIN,
    Receiver,
    app_token,
    assert_envelope,
    auth,
    connect_user,
    register,
    subscribe,
    vid,
)

DELAYS = (1.0, 2.0, 4.0)


@pytest_asyncio.fixture
async def hsim(clock: FakeClock) -> AsyncIterator[RunningSimulator]:
    """Manual rounds only (interval 0) and short retry delays on the fake clock."""
    running = await start_test_simulator(
        clock, webhook_interval_s=0.0, webhook_retry_delays_s=DELAYS
    )
    yield running
    await running.stop()


@pytest_asyncio.fixture
async def hhttp(hsim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hsim.base_url, timeout=20.0) as h:
        yield h


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def _subscribed(
    sim: RunningSimulator, http: httpx.AsyncClient, receiver: Receiver, **attributes: object
) -> tuple[str, str, str]:
    """Owner connected, webhook registered, the Ford subscribed and its FIRST_DELIVERY in."""
    user = await connect_user(sim)
    token = await app_token(http)
    created = await register(http, token, receiver.url, **attributes)
    assert created.status_code == 201, created.text
    webhook_id = created.json()["data"]["id"]
    answer = await subscribe(http, token, webhook_id, vehicleId=vid(sim, FORD_VIN))
    assert answer.status_code == 202, answer.text
    await receiver.wait_for(lambda r: len(r.events("VEHICLE_STATE")) == 1)
    return user.user_id, token, webhook_id


@pytest.mark.asyncio
async def test_registration_verifies_the_callback(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    token = await app_token(hhttp)
    created = await register(hhttp, token, receiver.url, errorCallbackUri=receiver.url + "/err")
    assert created.status_code == 201, created.text
    webhook = created.json()["data"]
    assert webhook["type"] == "webhook"
    attributes = webhook["attributes"]
    assert attributes["isEnabled"] is True and attributes["autoSubscribe"] is False
    assert attributes["callbackUri"] == receiver.url
    assert attributes["errorCallbackUri"] == receiver.url + "/err"
    assert [t["code"] for t in attributes["triggers"]] == [
        "location-preciselocation",
        "tractionbattery-stateofcharge",
        "internalcombustionengine-fuellevel",
        "closure-islocked",
        "closure-doors",
        "charge-ischarging",
        "odometer-traveleddistance",
    ]
    assert attributes["triggers"][0] == {
        "group": "Location",
        "name": "PreciseLocation",
        "code": "location-preciselocation",
    }
    assert len(attributes["data"]) == 23

    [verify] = receiver.events("VERIFY")
    assert verify.signed_ok
    assert verify.headers["Content-Type"] == "application/json"
    assert verify.headers["User-Agent"] == "Smartcar/sim"
    assert verify.body["meta"]["webhookId"] == webhook["id"]
    assert verify.body["meta"]["version"] == "4.0"
    assert len(verify.body["data"]["challenge"]) >= 16
    assert b", " not in verify.raw and b": " not in verify.raw  # compact JSON

    listed = await hhttp.get("/v3/webhooks", headers=auth(token))
    assert [w["id"] for w in listed.json()["data"]] == [webhook["id"]]
    assert listed.json()["meta"]["pageSize"] == 50
    by_name = await hhttp.get("/v3/webhooks", params={"filter[name]": "other"}, headers=auth(token))
    assert by_name.json()["data"] == []
    by_uri = await hhttp.get(
        "/v3/webhooks", params={"filter[callbackUri]": receiver.url}, headers=auth(token)
    )
    assert len(by_uri.json()["data"]) == 1
    one = await hhttp.get(f"/v3/webhooks/{webhook['id']}", headers=auth(token))
    assert one.json() == {"data": webhook}

    receiver.wrong_challenge = True
    refused = await register(hhttp, token, receiver.url)
    error = assert_envelope(refused, 422, "VALIDATION", "VERIFICATION_FAILED")
    assert "verification failed" in error["detail"]
    unreachable = await register(hhttp, token, "http://127.0.0.1:9/nothing")
    assert_envelope(unreachable, 422, "VALIDATION", "VERIFICATION_FAILED")
    invalid = await register(hhttp, token, receiver.url, triggers=["no-such-signal"])
    assert_envelope(invalid, 400, "VALIDATION", "PARAMETER")
    assert_envelope(await register(hhttp, "bogus", receiver.url), 401, "AUTHENTICATION", None)
    assert len((await hhttp.get("/v3/webhooks", headers=auth(token))).json()["data"]) == 1

    gone = await hhttp.delete(f"/v3/webhooks/{webhook['id']}", headers=auth(token))
    assert gone.status_code == 204
    missing = await hhttp.get(f"/v3/webhooks/{webhook['id']}", headers=auth(token))
    assert_envelope(missing, 404, "RESOURCE_NOT_FOUND", "PATH")


@pytest.mark.asyncio
async def test_subscribe_sends_first_delivery_signed(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    user_id, token, webhook_id = await _subscribed(hsim, hhttp, receiver)
    [first] = receiver.events("VEHICLE_STATE")
    assert first.signed_ok
    assert first.headers["SC-Signature"] == first.headers["SC-Signature"].lower()
    body = first.body
    ford = vid(hsim, FORD_VIN)
    assert body["data"]["user"] == {"id": user_id}
    assert body["data"]["vehicle"] == {
        "id": ford,
        "make": "FORD",
        "model": "Focus",
        "year": 2018,
        "mode": "simulated",
        "powertrainType": "ICE",
    }
    assert {t["type"] for t in body["triggers"]} == {"FIRST_DELIVERY"}
    assert len(body["triggers"]) == 7
    signals = {s["code"]: s for s in body["data"]["signals"]}
    assert len(signals) == 23 == body["meta"]["signalCount"]
    odometer = signals["odometer-traveleddistance"]
    assert set(odometer) == {"code", "name", "group", "body", "status", "meta"}
    assert odometer["status"] == {"value": "SUCCESS"}
    assert set(odometer["meta"]) == {"retrievedAt", "oemUpdatedAt"}
    assert signals["tractionbattery-stateofcharge"] == {
        "code": "tractionbattery-stateofcharge",
        "name": "StateOfCharge",
        "group": "TractionBattery",
        "status": {
            "value": "ERROR",
            "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
        },
    }
    meta = body["meta"]
    assert meta["version"] == "4.0" and meta["mode"] == "TEST"
    assert (meta["webhookId"], meta["webhookName"]) == (webhook_id, "Test hook")
    assert isinstance(meta["deliveredAt"], int) and meta["deliveryId"]

    # nothing changed (the Ford parks on the fake clock): a round sends nothing
    await hsim.webhooks.tick()
    assert len(receiver.events("VEHICLE_STATE")) == 1
    duplicate = await subscribe(hhttp, token, webhook_id, vehicleId=ford)
    assert_envelope(duplicate, 409, "VALIDATION", "CONFLICT")
    unknown = await subscribe(hhttp, token, "no-such-webhook", vehicleId=ford)
    assert_envelope(unknown, 404, "RESOURCE_NOT_FOUND", "PATH")
    kia = hsim.state.by_vin["KNDJ23AU5M7000005"].vehicle_id  # nobody connected it
    unconnected = await subscribe(hhttp, token, webhook_id, vehicleId=kia)
    assert_envelope(unconnected, 404, "RESOURCE_NOT_FOUND", "PATH")
    stats = (await hhttp.get("/_sim/webhooks/stats")).json()
    assert (stats["sent"], stats["failed"], stats["verified"]) == (1, 0, 1)


@pytest.mark.asyncio
async def test_state_change_fires_signal_updated(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver, clock: FakeClock
) -> None:
    await _subscribed(hsim, hhttp, receiver)
    await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/state", json={"locked": False})
    stats = (await hhttp.post("/_sim/webhooks/tick")).json()
    assert stats["sent"] == 2
    update = receiver.events("VEHICLE_STATE")[-1]
    assert update.signed_ok
    assert update.body["triggers"] == [  # the door grid carries isLocked as well
        {
            "type": "SIGNAL_UPDATED",
            "signal": {"name": "IsLocked", "group": "Closure", "code": "closure-islocked"},
        },
        {
            "type": "SIGNAL_UPDATED",
            "signal": {"name": "Doors", "group": "Closure", "code": "closure-doors"},
        },
    ]
    signals = {s["code"]: s for s in update.body["data"]["signals"]}
    assert signals["closure-islocked"]["body"] == {"value": False}
    assert update.body["eventId"] != receiver.events("VEHICLE_STATE")[0].body["eventId"]

    await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/state", json={"activity": "driving"})
    clock.advance(60)  # 600 m at 36 km/h
    await hsim.webhooks.tick()
    moved = receiver.events("VEHICLE_STATE")[-1]
    codes = {t["signal"]["code"] for t in moved.body["triggers"]}
    assert {"location-preciselocation", "odometer-traveleddistance"} <= codes
    assert "closure-islocked" not in codes
    assert len(receiver.events("VEHICLE_STATE")) == 3


@pytest.mark.asyncio
async def test_custom_triggers_and_blog_form_subscriptions(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    user = await connect_user(hsim)
    token = await app_token(hhttp)
    created = await register(
        hhttp,
        token,
        receiver.url,
        triggers=[{"code": "closure-doors"}],
        data=["closure-doors", "closure-islocked"],
    )
    webhook_id = created.json()["data"]["id"]
    tesla = vid(hsim, TESLA_VIN)
    answer = await hhttp.post(
        f"/v3/webhooks/{webhook_id}/subscriptions",
        json={"data": {"attributes": {"vehicleId": tesla}}},
        headers=auth(token),
    )
    assert answer.status_code == 202
    assert answer.json() == {"meta": {"message": "subscription creation in progress"}}
    await hsim.webhooks.tick()
    [first] = receiver.events("VEHICLE_STATE")
    assert [s["code"] for s in first.body["data"]["signals"]] == [
        "closure-doors",
        "closure-islocked",
    ]
    await hhttp.post(f"/_sim/vehicles/{TESLA_VIN}/state", json={"locked": False})
    await hsim.webhooks.tick()  # the door grid (the trigger) carries isLocked
    assert len(receiver.events("VEHICLE_STATE")) == 2
    await hhttp.post(f"/_sim/vehicles/{TESLA_VIN}/state", json={"plugged_in": True})
    await hsim.webhooks.tick()  # not a trigger: nothing sent
    assert len(receiver.events("VEHICLE_STATE")) == 2

    listed = await hhttp.get(
        "/v3/subscriptions", params={"filter[webhookId]": webhook_id}, headers=auth(token)
    )
    [sub] = listed.json()["data"]
    assert sub["type"] == "subscription"
    assert sub["relationships"]["vehicle"]["data"] == {"type": "vehicle", "id": tesla}
    assert sub["relationships"]["user"]["data"] == {"type": "user", "id": user.user_id}
    assert sub["relationships"]["webhook"]["data"] == {"type": "webhook", "id": webhook_id}
    assert sub["attributes"]["vehicle"]["powertrainType"] == "BEV"
    one = await hhttp.get(f"/v3/subscriptions/{sub['id']}", headers=auth(token))
    assert one.json() == {"data": sub}
    by_user = await hhttp.get(
        "/v3/subscriptions", params={"filter[userId]": "other"}, headers=auth(token)
    )
    assert by_user.json()["data"] == []
    via_webhook = await hhttp.get(f"/v3/webhooks/{webhook_id}/subscriptions", headers=auth(token))
    assert [s["id"] for s in via_webhook.json()["data"]] == [sub["id"]]

    gone = await hhttp.delete(
        f"/v3/webhooks/{webhook_id}/subscriptions/{tesla}", headers=auth(token)
    )
    assert gone.status_code == 204
    assert (await hhttp.get("/v3/subscriptions", headers=auth(token))).json()["data"] == []

    # by user: every vehicle of the user at once
    all_of_user = await subscribe(hhttp, token, webhook_id, userId=user.user_id)
    assert all_of_user.status_code == 202
    subs = (await hhttp.get("/v3/subscriptions", headers=auth(token))).json()["data"]
    assert len(subs) == 3
    removed = await hhttp.delete(f"/v3/subscriptions/{subs[0]['id']}", headers=auth(token))
    assert removed.status_code == 204
    again = await hhttp.delete(f"/v3/subscriptions/{subs[0]['id']}", headers=auth(token))
    assert_envelope(again, 404, "RESOURCE_NOT_FOUND", "PATH")


@pytest.mark.expect_log(
    "app.integrations.smartcar.simulator.webhook_delivery", match="failed|gave up"
)
@pytest.mark.asyncio
async def test_failed_deliveries_are_retried_then_given_up(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [500, 500, 500, 500]
    user = await connect_user(hsim)
    token = await app_token(hhttp)
    webhook_id = (await register(hhttp, token, receiver.url)).json()["data"]["id"]
    await subscribe(hhttp, token, webhook_id, vehicleId=vid(hsim, BMW_VIN))
    await hsim.webhooks.tick()
    assert len(receiver.events("VEHICLE_STATE")) == 1
    await hsim.webhooks.tick()  # the retry is not due yet
    assert len(receiver.events("VEHICLE_STATE")) == 1
    for delay in DELAYS:
        clock.advance(delay)
        await hsim.webhooks.tick()
    attempts = receiver.events("VEHICLE_STATE")
    assert len(attempts) == 4  # first try + 3 retries
    assert len({a.body["eventId"] for a in attempts}) == 1
    assert len({a.body["meta"]["deliveryId"] for a in attempts}) == 4
    assert all(a.signed_ok for a in attempts)
    stats = (await hhttp.get("/_sim/webhooks/stats")).json()
    assert (stats["sent"], stats["failed"], stats["retried"], stats["gave_up"]) == (0, 4, 3, 1)
    assert stats["pending"] == 0
    clock.advance(100)
    await hsim.webhooks.tick()  # given up: the event is not sent again
    assert len(receiver.events("VEHICLE_STATE")) == 4
    assert user.user_id


@pytest.mark.expect_log("app.integrations.smartcar.simulator.webhook_delivery", match="failed")
@pytest.mark.asyncio
async def test_retry_succeeds_after_a_failure(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [503]
    await connect_user(hsim)
    token = await app_token(hhttp)
    webhook_id = (await register(hhttp, token, receiver.url)).json()["data"]["id"]
    await subscribe(hhttp, token, webhook_id, vehicleId=vid(hsim, BMW_VIN))
    await hsim.webhooks.tick()
    clock.advance(DELAYS[0])
    await hsim.webhooks.tick()
    first, retry = receiver.events("VEHICLE_STATE")
    assert first.body["eventId"] == retry.body["eventId"]
    assert retry.body["triggers"][0]["type"] == "FIRST_DELIVERY"
    stats = hsim.webhooks.stats_json()
    assert (stats["sent"], stats["failed"], stats["retried"]) == (1, 1, 1)
    await hsim.webhooks.tick()
    assert len(receiver.events("VEHICLE_STATE")) == 2  # delivered: nothing outstanding


@pytest.mark.asyncio
async def test_vehicle_error_and_resolution(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    errors = await Receiver().start()
    try:
        user_id, _token, _webhook_id = await _subscribed(
            hsim, hhttp, receiver, errorCallbackUri=errors.url
        )
        bad = await hhttp.post(
            f"/_sim/vehicles/{FORD_VIN}/error", json={"type": "VEHICLE_STATE", "code": "NOPE"}
        )
        assert bad.status_code == 400
        raised = await hhttp.post(
            f"/_sim/vehicles/{FORD_VIN}/error",
            json={"type": "VEHICLE_STATE", "code": "UNREACHABLE"},
        )
        assert raised.json()["queued"] == 1
        await errors.wait_for(lambda r: len(r.events("VEHICLE_ERROR")) == 1)
        [event] = errors.events("VEHICLE_ERROR")
        assert event.signed_ok
        body = event.body
        assert body["data"]["user"] == {"id": user_id}
        assert body["data"]["vehicle"]["id"] == vid(hsim, FORD_VIN)
        [error] = body["data"]["errors"]
        assert error["type"] == "VEHICLE_STATE" and error["code"] == "UNREACHABLE"
        assert error["state"] == "ERROR"
        assert error["docURL"].startswith("https://smartcar.com/docs/errors/api-errors/")
        assert {"description", "resolution", "suggestedUserMessage"} <= set(error)
        assert body["meta"]["deliveryId"] and isinstance(body["meta"]["deliveredAt"], int)
        assert receiver.events("VEHICLE_ERROR") == []  # the error callback got it

        # paused: a change is not delivered while the error is set
        await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/state", json={"locked": False})
        await hsim.webhooks.tick()
        assert len(receiver.events("VEHICLE_STATE")) == 1

        cleared = await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/error", json={"clear": True})
        assert cleared.json()["state"] == "RESOLVED"
        await errors.wait_for(lambda r: len(r.events("VEHICLE_ERROR")) == 2)
        resolved = errors.events("VEHICLE_ERROR")[1].body
        assert resolved["data"]["errors"][0]["state"] == "RESOLVED"
        assert resolved["eventId"] != body["eventId"]
        await hsim.webhooks.tick()  # resumed: the unlock goes out now
        assert len(receiver.events("VEHICLE_STATE")) == 2
        again = await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/error", json={"clear": True})
        assert again.status_code == 409
    finally:
        await errors.stop()


@pytest.mark.asyncio
async def test_removing_the_user_drops_subscriptions(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    user_id, token, _webhook_id = await _subscribed(hsim, hhttp, receiver)
    assert len((await hhttp.get("/v3/subscriptions", headers=auth(token))).json()["data"]) == 1
    assert (await hhttp.delete(f"/v3/users/{user_id}", headers=auth(token))).status_code == 204
    assert (await hhttp.get("/v3/subscriptions", headers=auth(token))).json()["data"] == []
    await hhttp.post(f"/_sim/vehicles/{FORD_VIN}/state", json={"locked": False})
    await hsim.webhooks.tick()
    assert len(receiver.events("VEHICLE_STATE")) == 1
    signals = await hhttp.get(
        f"/v3/vehicles/{vid(hsim, FORD_VIN)}/signals", headers=auth(token, user_id)
    )
    assert_envelope(signals, 404, "RESOURCE_NOT_FOUND", "PATH")


@pytest.mark.asyncio
async def test_auto_subscribe_covers_new_connections(
    hsim: RunningSimulator, hhttp: httpx.AsyncClient, receiver: Receiver
) -> None:
    token = await app_token(hhttp)
    created = await register(hhttp, token, receiver.url, autoSubscribe=True)
    assert created.json()["data"]["attributes"]["autoSubscribe"] is True
    await connect_user(hsim, email="driver@example.com")  # the two unowned cars
    await hsim.webhooks.tick()
    firsts = receiver.events("VEHICLE_STATE")
    assert len(firsts) == 2
    assert {f.body["data"]["vehicle"]["make"] for f in firsts} == {"HONDA", "KIA"}


@pytest.mark.asyncio
async def test_register_webhook_helper_runs_verify(
    hsim: RunningSimulator, receiver: Receiver
) -> None:
    webhook_id = await hsim.register_webhook(receiver.url)
    assert hsim.state.v3.webhooks[webhook_id].callback_uri == receiver.url
    assert len(receiver.events("VERIFY")) == 1
    receiver.wrong_challenge = True
    with pytest.raises(ValueError, match="verification failed"):
        await hsim.register_webhook(receiver.url)
