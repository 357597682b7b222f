"""Smartcar webhook payloads (version 4.0): the signature, the VERIFY challenge, the events.

Pure functions and plain data, no server: :mod:`.webhook_receiver` runs the HTTP side and
the services decide what a delivery changes. Facts used (V3 reference, section 4):

* ``SC-Signature`` is the lowercase hex HMAC-SHA256 of the raw body, keyed with the
  Application Management Token (AMT); compared in constant time;
* VERIFY is answered ``{"challenge": hex HMAC-SHA256(AMT, data.challenge)}``;
* ``VEHICLE_STATE`` carries flat signals (``code, body, status, meta``) for one vehicle of
  one user; ``VEHICLE_ERROR`` a list of errors each ``state`` ERROR or RESOLVED, in the
  v2-style field names;
* ``meta.deliveredAt`` is epoch milliseconds or an ISO string; ``eventId`` stays the same
  across Smartcar's retries of one event, ``deliveryId`` changes per attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.integrations.smartcar.errors import SmartcarProtocolError
from app.integrations.smartcar.transport import MAX_JSON_DEPTH, json_depth
from app.integrations.smartcar.v3_signals import Signal, parse_signals, when

#: A challenge we answer without a signature must look like a random token. An unsigned
#: VERIFY answered for any text would be a signing oracle: send a forged delivery's body
#: as the "challenge" and the answer is its valid SC-Signature.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9._~+/=-]{8,256}")


class WebhookRejected(Exception):
    """A delivery we refuse; ``status`` is the HTTP answer, ``str(exc)`` the log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def sign(key: str, message: bytes) -> str:
    """Hex HMAC-SHA256, as Smartcar's SDK ``hash_challenge`` / ``verify_payload`` use."""
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(key: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    return hmac.compare_digest(sign(key, body), header.strip().lower())


def challenge_answerable_unsigned(challenge: str) -> bool:
    return _TOKEN_LIKE.fullmatch(challenge) is not None


@dataclass(frozen=True)
class Envelope:
    """What every event has."""

    event_id: str
    event_type: str
    delivery_id: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class VerifyEvent:
    envelope: Envelope
    challenge: str


@dataclass(frozen=True)
class VehicleStateEvent:
    envelope: Envelope
    user_id: str
    vehicle_id: str
    signals: Mapping[str, Signal]
    first_delivery: bool


@dataclass(frozen=True)
class VehicleProblem:
    """One entry of a VEHICLE_ERROR: ``state`` is ``ERROR`` or ``RESOLVED``."""

    type: str
    code: str | None
    state: str
    message: str


@dataclass(frozen=True)
class VehicleErrorEvent:
    envelope: Envelope
    user_id: str
    vehicle_id: str
    problems: tuple[VehicleProblem, ...]


@dataclass(frozen=True)
class OtherEvent:
    """An event type this console does not act on (Smartcar may add some)."""

    envelope: Envelope


WebhookEvent = VerifyEvent | VehicleStateEvent | VehicleErrorEvent | OtherEvent


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WebhookRejected(400, f"{what} is not a JSON object")
    return value


def decode(body: bytes) -> Mapping[str, Any]:
    """The payload object, or WebhookRejected(400) saying what is wrong with it."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise WebhookRejected(400, "JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, f"malformed JSON ({type(exc).__name__})") from None
    if json_depth(payload) > MAX_JSON_DEPTH:
        raise WebhookRejected(400, "JSON nested too deep")
    return _map(payload, "payload")


def parse_event(payload: Mapping[str, Any]) -> WebhookEvent:
    event_id, event_type = _text(payload.get("eventId")), _text(payload.get("eventType"))
    if event_id is None or event_type is None:
        raise WebhookRejected(400, "payload without eventId or eventType")
    if len(event_id) > 128:
        raise WebhookRejected(400, "eventId longer than 128 characters")
    meta = payload.get("meta") if isinstance(payload.get("meta"), Mapping) else {}
    assert isinstance(meta, Mapping)
    envelope = Envelope(
        event_id, event_type, _text(meta.get("deliveryId")), when(meta.get("deliveredAt"))
    )
    data = _map(payload.get("data"), "data")
    if event_type == "VERIFY":
        challenge = _text(data.get("challenge"))
        if challenge is None:
            raise WebhookRejected(400, "VERIFY without a challenge")
        return VerifyEvent(envelope, challenge)
    if event_type not in ("VEHICLE_STATE", "VEHICLE_ERROR"):
        return OtherEvent(envelope)
    user = data.get("user")
    vehicle = data.get("vehicle")
    user_id = _text(user.get("id")) if isinstance(user, Mapping) else None
    vehicle_id = _text(vehicle.get("id")) if isinstance(vehicle, Mapping) else None
    if user_id is None or vehicle_id is None:
        raise WebhookRejected(400, f"{event_type} without data.user.id or data.vehicle.id")
    if event_type == "VEHICLE_ERROR":
        return VehicleErrorEvent(envelope, user_id, vehicle_id, _problems(data.get("errors")))
    try:
        signals = parse_signals(data.get("signals"))
    except SmartcarProtocolError as exc:
        raise WebhookRejected(400, f"VEHICLE_STATE: {exc}") from None
    triggers = payload.get("triggers")
    first = isinstance(triggers, list) and any(
        isinstance(t, Mapping) and t.get("type") == "FIRST_DELIVERY" for t in triggers
    )
    return VehicleStateEvent(envelope, user_id, vehicle_id, signals, first)


def _problems(errors: Any) -> tuple[VehicleProblem, ...]:
    if not isinstance(errors, list):
        raise WebhookRejected(400, "VEHICLE_ERROR without an errors list")
    problems = []
    for entry in errors:
        if not isinstance(entry, Mapping) or _text(entry.get("type")) is None:
            continue
        state = "RESOLVED" if entry.get("state") == "RESOLVED" else "ERROR"
        message = (
            _text(entry.get("suggestedUserMessage"))
            or _text(entry.get("description"))
            or _text(entry.get("detail"))
            or str(entry["type"])
        )
        problems.append(VehicleProblem(entry["type"], _text(entry.get("code")), state, message))
    return tuple(problems)
