"""API V3 building blocks without HTTP: connection/subscription bookkeeping, signals,
the error envelope, and the webhook signing and change rules."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from app.integrations.smartcar.simulator import VehicleSpec
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.v3_errors import envelope
from app.integrations.smartcar.simulator.v3_model import (
    SubscriptionExists,
    V3Store,
    Webhook,
    iso_z,
)
from app.integrations.smartcar.simulator.v3_signals import (
    SIGNALS,
    _direction,
    evaluate,
    flat_signal,
    moved_m,
    rest_signal,
)
from app.integrations.smartcar.simulator.webhook_delivery import _changed, compact
from app.integrations.smartcar.webhooks import sign

BEV = VehicleSpec("5YJ3E1EA7KF000001", "TESLA", "Model 3", 2019, "bev", 52.5, 13.4, 20000.0)
ICE = VehicleSpec("1FADP3F20JL000003", "FORD", "Focus", 2018, "ice", 52.52, 13.42, 40000.0)
ALL = frozenset(
    {
        "read_location",
        "read_odometer",
        "read_fuel",
        "read_battery",
        "read_charge",
        "read_security",
        "read_tires",
        "read_engine_oil",
        "read_vin",
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _webhook(store: V3Store, auto: bool = False) -> Webhook:
    hook = Webhook("w1", "hook", "http://x/h", [], [], None, auto, store.clock())
    store.add_webhook(hook)
    return hook


def test_reconnect_updates_the_connection_in_place() -> None:
    clock = Clock()
    store = V3Store(clock)
    first = store.connect("u1", "v1", frozenset({"read_vin"}))
    clock.now += 10
    second = store.connect("u1", "v1", frozenset({"read_vin", "read_odometer"}), slow=True)
    assert second is first and len(store.connections) == 1
    assert first.scopes == {"read_vin", "read_odometer"} and first.slow
    assert first.updated_at == first.created_at + 10
    other = store.connect("u2", "v1", frozenset())
    assert other.id != first.id
    assert store.list_connections() == [other, first]  # newest first
    assert store.list_connections(user_id="u1") == [first]
    assert store.newest_connection_of_vehicle("v1") is other


def test_removals_cascade_to_subscriptions() -> None:
    store = V3Store(Clock())
    _webhook(store)
    a = store.connect("u1", "v1", frozenset())
    b = store.connect("u1", "v2", frozenset())
    c = store.connect("u2", "v3", frozenset())
    for conn in (a, b, c):
        store.subscribe("w1", conn)
    with pytest.raises(SubscriptionExists):
        store.subscribe("w1", a)
    assert store.remove_connection(a.id)
    assert {s.vehicle_id for s in store.subscriptions.values()} == {"v2", "v3"}
    assert store.remove_user("u1") == 1
    assert {s.vehicle_id for s in store.subscriptions.values()} == {"v3"}
    assert store.remove_user("nobody") == 0
    assert store.remove_webhook("w1") and store.subscriptions == {}


def test_auto_subscribe_webhooks_pick_up_new_connections() -> None:
    store = V3Store(Clock())
    _webhook(store, auto=True)
    conn = store.connect("u1", "v1", frozenset())
    store.connect("u1", "v1", frozenset({"read_vin"}))  # reconnect: no duplicate
    [sub] = store.subscriptions.values()
    assert (sub.vehicle_id, sub.user_id, sub.first_delivered) == ("v1", "u1", False)
    assert conn.vehicle_id == "v1"


def test_iso_z() -> None:
    assert iso_z(0.5) == "1970-01-01T00:00:00.500Z"


@pytest.mark.parametrize(
    ("heading", "direction"),
    [(0, "N"), (22.4, "N"), (22.6, "NE"), (90, "E"), (181, "S"), (300, "NW"), (359, "N")],
)
def test_compass_direction(heading: float, direction: str) -> None:
    assert _direction(heading) == direction


def test_permission_before_capability_and_asleep_cars() -> None:
    bev = SimVehicle.from_spec(BEV, 0.0)
    fuel = evaluate(bev, "internalcombustionengine-fuellevel", frozenset())
    assert fuel.error == ("PERMISSION", "UNKNOWN") and fuel.body is None
    fuel = evaluate(bev, "internalcombustionengine-fuellevel", ALL)
    assert fuel.error == ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    soc = evaluate(bev, "tractionbattery-stateofcharge", ALL)
    assert soc.body == {"value": round(bev.battery_fraction * 100, 1), "unit": "percent"}
    bev.asleep = True
    assert evaluate(bev, "odometer-traveleddistance", ALL).error == ("VEHICLE_STATE", "ASLEEP")
    assert evaluate(bev, "vehicleidentification-vin", ALL).body == {"value": BEV.vin}
    assert evaluate(bev, "connectivitystatus-isasleep", frozenset()).body == {"value": True}
    assert evaluate(bev, "connectivitystatus-isonline", frozenset()).body == {"value": False}


def test_ice_car_answers_every_fuel_signal_and_no_battery_one() -> None:
    ice = SimVehicle.from_spec(ICE, 0.0)
    answered = {code for code in SIGNALS if evaluate(ice, code, ALL).error is None}
    assert {c for c in SIGNALS if c.startswith("internalcombustionengine-")} <= answered
    assert not {c for c in answered if c.startswith(("tractionbattery-", "charge-"))}


def test_rest_and_flat_forms() -> None:
    ice = SimVehicle.from_spec(ICE, 0.0)
    ok = evaluate(ice, "odometer-traveleddistance", ALL)
    rest = rest_signal(ok, "/self", 10.0, 9.5)
    assert rest["meta"] == {"retrievedAt": 10_000, "oemUpdatedAt": 9_500}
    assert rest["attributes"]["body"] == {"value": 40000.0, "unit": "km"}
    failed = evaluate(ice, "tractionbattery-range", ALL)
    assert flat_signal(failed, 10.0, 9.5) == {
        "code": "tractionbattery-range",
        "name": "Range",
        "group": "TractionBattery",
        "status": {
            "value": "ERROR",
            "error": {"type": "COMPATIBILITY", "code": "VEHICLE_NOT_CAPABLE"},
        },
    }
    error = rest_signal(failed, "/self", 10.0, 9.5)["attributes"]["status"]["error"]
    assert error["title"] == "Vehicle Not Capable"
    assert error["description"] == "Deprecated. Use detail"


def test_envelope_status_is_a_string_and_title_follows_the_code() -> None:
    status, body = envelope("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")
    [error] = body["errors"]
    assert status == 409 and error["status"] == "409"
    assert error["title"] == "Charging Plug Not Connected"
    assert error["links"]["about"].endswith("#charging-plug-not-connected")
    status, body = envelope("RESOURCE_NOT_FOUND", "PATH", status=405)
    assert status == 405 and body["errors"][0]["status"] == "405"
    assert envelope("AUTHENTICATION")[1]["errors"][0]["title"] == "Authentication"
    assert envelope("VALIDATION", "MISSING_HEADER")[0] == 400


def test_signature_matches_the_sdk_test_vector() -> None:
    vector = "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
    assert sign("amt", b"challenge") == vector
    raw = compact({"a": [1, {"b": None}]})
    assert raw == b'{"a":[1,{"b":null}]}'
    assert raw == json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert sign("k", raw) == hmac.new(b"k", raw, hashlib.sha256).hexdigest()


def test_location_changes_only_beyond_a_few_metres() -> None:
    here = {"latitude": 52.5, "longitude": 13.4, "heading": 10.0}
    near = {"latitude": 52.50002, "longitude": 13.4, "heading": 80.0}  # ~2 m, other heading
    far = {"latitude": 52.5001, "longitude": 13.4, "heading": 10.0}  # ~11 m
    assert moved_m(here, far) == pytest.approx(11.1, abs=0.2)
    assert not _changed("location-preciselocation", here, near)
    assert _changed("location-preciselocation", here, far)
    assert _changed("closure-islocked", {"value": True}, {"value": False})
    assert not _changed("closure-islocked", {"value": True}, {"value": True})
    assert _changed("location-preciselocation", None, here)  # nothing delivered yet
