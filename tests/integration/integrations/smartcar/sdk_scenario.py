"""The official ``smartcar`` SDK driven end to end against a running simulator.

Run as ``python -m tests.integration.integrations.smartcar.sdk_scenario <redirect_uri>``
with the SDK's origin env vars pointing at the simulator (the SDK reads them once, at
import, hence a subprocess).
Prints one JSON document describing what the SDK saw; the test asserts on it.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import smartcar

from tests.integration.integrations.smartcar.connect_walk import walk_connect

CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
SCOPES = [
    "required:read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_battery",
    "read_fuel",
    "read_charge",
    "read_security",
    "read_tires",
    "read_engine_oil",
    "control_security",
]
FORCED = [
    "VEHICLE_STATE.ASLEEP@x.test",
    "VEHICLE_STATE.DOOR_OPEN@x.test",
    "RATE_LIMIT.VEHICLE@x.test",
    "SERVER.INTERNAL@x.test",
    "UPSTREAM.NO_RESPONSE@x.test",
    "CONNECTED_SERVICES_ACCOUNT.ACCOUNT_ISSUE@x.test",
    "AUTHENTICATION.NULL@x.test",
]


def _error(exc: smartcar.SmartcarException) -> dict[str, Any]:
    return {
        "type": exc.type,
        "code": exc.code,
        "status": exc.status_code,
        "retry_after": getattr(exc, "retry_after", None),
        "request_id": exc.request_id,
    }


def _call(fn: Any) -> dict[str, Any]:
    try:
        return {"ok": fn()._asdict()}
    except smartcar.SmartcarException as exc:
        return {"error": _error(exc)}


def _login(client: smartcar.AuthClient, email: str, state: str) -> Any:
    url = client.get_auth_url(SCOPES, {"state": state})
    redirect = walk_connect(url, email=email)
    query = parse_qs(urlsplit(redirect).query)
    assert query["state"] == [state], redirect
    return client.exchange_code(query["code"][0])


def main(redirect_uri: str) -> dict[str, Any]:
    client = smartcar.AuthClient(CLIENT_ID, CLIENT_SECRET, redirect_uri, mode="simulated")
    out: dict[str, Any] = {"auth_url": client.get_auth_url(SCOPES, {"state": "s0"})}
    first = _login(client, "driver@example.com", "s1")
    access = client.exchange_refresh_token(first.refresh_token)
    out["refresh_rotated"] = access.refresh_token != first.refresh_token
    try:
        client.exchange_refresh_token(first.refresh_token)
        out["old_refresh_reuse"] = "accepted"
    except smartcar.SmartcarException as exc:
        out["old_refresh_reuse"] = {"type": exc.type, "message": exc.message}
    token = access.access_token
    out["user_id"] = smartcar.get_user(token).id
    listing = smartcar.get_vehicles(token, {"limit": 10, "offset": 0})
    out["vehicle_ids"] = list(listing.vehicles)
    out["paging_count"] = listing.paging.count
    out["vehicles"] = {}
    for vehicle_id in listing.vehicles:
        v = smartcar.Vehicle(vehicle_id, token)
        reads = {
            name: _call(getattr(v, name))
            for name in (
                "attributes",
                "vin",
                "location",
                "odometer",
                "fuel",
                "battery",
                "charge",
                "lock_status",
                "tire_pressure",
                "engine_oil",
            )
        }
        for item in reads.values():
            if "ok" in item:
                item["ok"] = {k: val for k, val in item["ok"].items() if k != "meta"}
        reads["odometer_imperial"] = _call(
            smartcar.Vehicle(vehicle_id, token, {"unit_system": "imperial"}).odometer
        )
        reads["lock"] = _call(v.lock)
        reads["unlock"] = _call(v.unlock)
        reads["permissions"] = sorted(v.permissions().permissions)
        batch = v.batch(["/odometer", "/location", "/fuel", "/battery", "/security"])
        reads["batch"] = {
            name: _call(getattr(batch, name))
            for name in ("odometer", "location", "fuel", "battery", "lock_status")
        }
        out["vehicles"][vehicle_id] = json.loads(json.dumps(reads, default=str))
    gone = listing.vehicles[0]
    out["disconnect"] = smartcar.Vehicle(gone, token).disconnect().status
    out["after_disconnect"] = _call(smartcar.Vehicle(gone, token).odometer)
    vin = out["vehicles"][listing.vehicles[1]]["vin"]["ok"]["vin"]
    compat = smartcar.get_compatibility(
        vin,
        ["read_odometer", "read_fuel"],
        "US",
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    out["compatibility"] = {"compatible": compat.compatible, "n": len(compat.capabilities)}
    out["forced"] = {}
    for n, email in enumerate(FORCED):
        forced_token = _login(client, email, f"f{n}").access_token
        vehicle_id = smartcar.get_vehicles(forced_token).vehicles[0]
        v = smartcar.Vehicle(vehicle_id, forced_token)
        out["forced"][email] = {
            "read": _call(v.odometer),
            "vin": _call(v.vin),
            "batch": _call(v.batch(["/odometer"]).odometer),
        }
    try:
        client.exchange_code("not-a-code")
    except smartcar.SmartcarException as exc:
        out["bad_code"] = {"type": exc.type, "message": exc.message, "status": exc.status_code}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))
