"""The official ``smartcar`` SDK's API V3 calls against a running simulator.

Run as ``python -m tests.integration.integrations.smartcar.sdk_v3_scenario <redirect_uri>
<vehicle_id>`` with ``SMARTCAR_VEHICLE_API_V3_ORIGIN``, ``SMARTCAR_API_ORIGIN``,
``SMARTCAR_AUTH_ORIGIN`` and ``SMARTCAR_CONNECT_ORIGIN`` pointing at the simulator (the SDK
reads them once, at import). The SDK has no helper for the application token, so that one
request is plain ``requests`` (the SDK's own HTTP library). Prints one JSON document.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import smartcar

from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.integrations.smartcar.sdk_scenario import CLIENT_ID, CLIENT_SECRET, SCOPES

V3_SCOPES = [*SCOPES, "control_charge"]


def main(redirect_uri: str, vehicle_id: str) -> dict[str, Any]:
    client = smartcar.AuthClient(CLIENT_ID, CLIENT_SECRET, redirect_uri, mode="simulated")
    redirect = walk_connect(
        client.get_auth_url(V3_SCOPES, {"state": "v3"}), email="owner@fleet.test"
    )
    query = parse_qs(urlsplit(redirect).query)
    user_id = query["user_id"][0]
    token = client.exchange_code(query["code"][0]).access_token
    app_token = requests.post(
        f"{os.environ['SMARTCAR_API_ORIGIN']}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=30,
    ).json()["access_token"]

    out: dict[str, Any] = {"user_id": user_id}
    vehicle = smartcar.smartcar.get_vehicle(token, vehicle_id)
    out["vehicle"] = vehicle["body"]
    out["vehicle_request_id"] = vehicle["headers"].get("SC-Request-Id")
    out["signals"] = smartcar.Vehicle(vehicle_id, token).get_signals()["body"]
    out["odometer"] = smartcar.Vehicle(vehicle_id, token).get_signal("odometer-traveleddistance")[
        "body"
    ]
    try:
        smartcar.Vehicle(vehicle_id, token).get_signal("no-such-signal")
        out["unknown_signal"] = "accepted"
    except smartcar.SmartcarException as exc:
        out["unknown_signal"] = {
            "type": exc.type,
            "status": exc.status_code,
            "message": exc.message,
            "request_id": exc.request_id,
        }
    headers = {"Authorization": f"Bearer {app_token}", "sc-user-id": user_id}
    lock = smartcar.Vehicle(vehicle_id, app_token, {"version": "3"}).request(
        "POST", "commands/security/lock", {}, dict(headers)
    )
    out["lock"] = {"body": lock.body, "request_id": lock.meta.request_id}
    limit = smartcar.Vehicle(vehicle_id, app_token, {"version": "3"}).request(
        "POST",
        "commands/charge/set-limit",
        {"data": {"attributes": {"percent": 80}}},
        dict(headers),
    )
    out["set_limit"] = limit.body
    after = smartcar.Vehicle(vehicle_id, token).get_signal("closure-islocked")["body"]
    out["locked_after"] = after["data"]["attributes"]["body"]["value"]
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
