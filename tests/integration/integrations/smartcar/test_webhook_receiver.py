"""The webhook receiver over a real localhost socket: every refusal and the VERIFY answer.

``on_event`` is a recording stand-in here; the service that stores events is tested in
``tests/integration/services/webhooks``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.integrations.smartcar.webhook_receiver import (
    Ack,
    ReceiverConfig,
    WebhookReceiver,
)
from app.integrations.smartcar.webhooks import (
    VehicleErrorEvent,
    VehicleStateEvent,
    WebhookEvent,
    sign,
)

AMT = "management-token-for-tests"
RECEIVER = "app.integrations.smartcar.webhook_receiver"


def test_signature_matches_the_sdk_vector() -> None:
    # java SmartcarTest.testHashChallenge: HMAC-SHA256(key="amt", msg="challenge")
    assert sign("amt", b"challenge") == (
        "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
    )


def state_payload(event_id: str = "ev-1", delivered_ms: float | None = None) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": "user-1"},
            "vehicle": {"id": "veh-1", "make": "TESLA", "model": "Model 3", "year": 2019},
            "signals": [
                {
                    "code": "location-preciselocation",
                    "name": "PreciseLocation",
                    "group": "Location",
                    "body": {"latitude": 52.5, "longitude": 13.4},
                    "status": {"value": "SUCCESS"},
                    "meta": {"retrievedAt": 1758668712404, "oemUpdatedAt": 1758668712404},
                },
                {
                    "code": "location-isathome",
                    "status": {
                        "value": "ERROR",
                        "error": {"code": "VEHICLE_NOT_CAPABLE", "type": "COMPATIBILITY"},
                    },
                },
            ],
        },
        "triggers": [{"type": "FIRST_DELIVERY"}],
        "meta": {
            "version": "4.0",
            "deliveryId": f"d-{event_id}",
            "deliveredAt": delivered_ms if delivered_ms is not None else time.time() * 1000,
        },
    }


class Recorder:
    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []
        self.fail = False

    async def __call__(self, event: WebhookEvent) -> Ack:
        if self.fail:
            raise OSError("disk full")
        self.events.append(event)
        return Ack(200, "stored")


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiver, Recorder]]:
    recorder = Recorder()
    r = WebhookReceiver(ReceiverConfig(port=0, max_body_bytes=64 * 1024), AMT, recorder)
    await r.start()
    try:
        yield r, recorder
    finally:
        await r.stop()


async def post(
    receiver: WebhookReceiver, body: bytes, *, signature: str | None = None, **headers: str
) -> httpx.Response:
    assert receiver.url is not None
    sent = {"content-type": "application/json", **headers}
    if signature is not None:
        sent["SC-Signature"] = signature
    async with httpx.AsyncClient() as http:
        return await http.post(receiver.url, content=body, headers=sent)


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.mark.asyncio
async def test_signed_vehicle_state_is_handed_on(
    receiver: tuple[WebhookReceiver, Recorder],
) -> None:
    r, recorder = receiver
    body = compact(state_payload())
    answer = await post(r, body, signature=sign(AMT, body))
    assert answer.status_code == 200
    (event,) = recorder.events
    assert isinstance(event, VehicleStateEvent)
    assert (event.vehicle_id, event.user_id, event.first_delivery) == ("veh-1", "user-1", True)
    assert event.signals["location-preciselocation"].body == {"latitude": 52.5, "longitude": 13.4}
    assert event.signals["location-isathome"].error is not None


@pytest.mark.asyncio
async def test_verify_is_answered_with_the_challenge_hmac(
    receiver: tuple[WebhookReceiver, Recorder],
) -> None:
    r, recorder = receiver
    body = compact({"eventId": "v1", "eventType": "VERIFY", "data": {"challenge": "abc123XYZ"}})
    for signature in (sign(AMT, body), None):  # whether Smartcar signs VERIFY is not documented
        answer = await post(r, body, signature=signature)
        assert answer.status_code == 200
        assert answer.json() == {"challenge": sign(AMT, b"abc123XYZ")}
    assert recorder.events == []


@pytest.mark.asyncio
@pytest.mark.expect_log(RECEIVER, match="unusual challenge")
async def test_unsigned_verify_is_no_signing_oracle(
    receiver: tuple[WebhookReceiver, Recorder],
) -> None:
    r, _ = receiver
    forged = compact(state_payload("evil"))
    body = compact({"eventId": "v2", "eventType": "VERIFY", "data": {"challenge": forged.decode()}})
    answer = await post(r, body)
    assert answer.status_code == 401
    assert sign(AMT, forged) not in answer.text


@pytest.mark.asyncio
@pytest.mark.expect_log(RECEIVER, match="refused")
async def test_refusals_store_nothing(receiver: tuple[WebhookReceiver, Recorder]) -> None:
    r, recorder = receiver
    good = compact(state_payload())
    cases = {
        "unsigned": (good, None, {}),
        "forged": (good, sign("another key", good), {}),
        "tampered": (good.replace(b"52.5", b"48.1"), sign(AMT, good), {}),
        "malformed": (b'{"eventId": ', sign(AMT, b'{"eventId": '), {}),
        "not an object": (b"[1,2]", sign(AMT, b"[1,2]"), {}),
        "no ids": (compact({"eventType": "VEHICLE_STATE"}), None, {}),
        "oversized": (b" " * 70_000 + good, None, {}),
        "not json": (good, sign(AMT, good), {"content-type": "text/plain"}),
        "deep": (b"[" * 5000 + b"]" * 5000, sign(AMT, b"[" * 5000 + b"]" * 5000), {}),
    }
    no_ids = cases["no ids"][0]
    cases["no ids"] = (no_ids, sign(AMT, no_ids), {})
    statuses = {}
    for name, (body, signature, headers) in cases.items():
        statuses[name] = (await post(r, body, signature=signature, **headers)).status_code
    assert statuses == {
        "unsigned": 401,
        "forged": 401,
        "tampered": 401,
        "malformed": 400,
        "not an object": 400,
        "no ids": 400,
        "oversized": 413,
        "not json": 415,
        "deep": 400,
    }
    assert recorder.events == []
    assert r.counts["unsigned or forged"] == 3


@pytest.mark.asyncio
@pytest.mark.expect_log(RECEIVER, match="replay")
async def test_an_old_delivery_is_a_replay(receiver: tuple[WebhookReceiver, Recorder]) -> None:
    r, recorder = receiver
    body = compact(state_payload(delivered_ms=(time.time() - 3600) * 1000))
    answer = await post(r, body, signature=sign(AMT, body))
    assert answer.status_code == 409
    assert recorder.events == []


@pytest.mark.asyncio
@pytest.mark.expect_log(RECEIVER, match="could not be stored", level="ERROR")
async def test_a_store_failure_answers_503_so_smartcar_retries(
    receiver: tuple[WebhookReceiver, Recorder],
) -> None:
    r, recorder = receiver
    recorder.fail = True
    body = compact(state_payload())
    answer = await post(r, body, signature=sign(AMT, body))
    assert answer.status_code == 503


@pytest.mark.asyncio
async def test_vehicle_error_accepts_both_signal_forms(
    receiver: tuple[WebhookReceiver, Recorder],
) -> None:
    r, recorder = receiver
    payload = {
        "eventId": "err-1",
        "eventType": "VEHICLE_ERROR",
        "data": {
            "user": {"id": "user-1"},
            "vehicle": {"id": "veh-1"},
            "errors": [
                {
                    "type": "VEHICLE_STATE",
                    "code": "UNREACHABLE",
                    "state": "ERROR",
                    "suggestedUserMessage": "The car cannot be reached.",
                    "signals": ["ConnectivityStatus.IsOnline"],
                },
                {
                    "type": "PERMISSION",
                    "code": None,
                    "state": "RESOLVED",
                    "signals": [
                        {"name": "Permissions", "group": "VehicleUserAccount", "code": "x"}
                    ],
                },
            ],
        },
        "meta": {"deliveryId": "d1", "deliveredAt": time.time() * 1000},
    }
    body = compact(payload)
    assert (await post(r, body, signature=sign(AMT, body))).status_code == 200
    (event,) = recorder.events
    assert isinstance(event, VehicleErrorEvent)
    assert [(p.code, p.state, p.message) for p in event.problems] == [
        ("UNREACHABLE", "ERROR", "The car cannot be reached."),
        (None, "RESOLVED", "PERMISSION"),
    ]
