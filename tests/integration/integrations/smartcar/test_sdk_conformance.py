"""The official smartcar SDK (6.19.1), unchanged, against the simulator over real sockets.

The SDK reads its origins from env vars at import time and is synchronous, so it runs in a
subprocess (``sdk_scenario.py``) while the simulator serves on this test's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import REDIRECT

ROOT = Path(__file__).resolve().parents[4]


async def run_sdk(sim: RunningSimulator) -> dict[str, Any]:
    env = {
        **os.environ,
        "SMARTCAR_API_ORIGIN": sim.base_url,
        "SMARTCAR_AUTH_ORIGIN": sim.token_url,
        "SMARTCAR_CONNECT_ORIGIN": sim.base_url,
        "PYTHONPATH": str(ROOT),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.integrations.smartcar.sdk_scenario",
        REDIRECT,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


@pytest.mark.asyncio
async def test_official_sdk_full_scenario(sim: RunningSimulator) -> None:
    r = await run_sdk(sim)  # "driver@example.com" owns nothing: it gets the unowned cars

    assert r["auth_url"].startswith(f"{sim.base_url}/oauth/authorize?")
    assert r["refresh_rotated"] is True
    assert r["old_refresh_reuse"]["type"] == "invalid_grant"
    assert r["bad_code"] == {
        "type": "invalid_grant",
        "message": "Invalid code: not-a-code.",
        "status": 400,
    }
    assert len(r["user_id"]) == 36
    assert r["paging_count"] == len(r["vehicle_ids"]) >= 2

    for vehicle in r["vehicles"].values():
        powertrain_has_fuel = "ok" in vehicle["fuel"]
        assert vehicle["attributes"]["ok"]["year"] >= 2016
        assert len(vehicle["vin"]["ok"]["vin"]) == 17
        assert -90 <= vehicle["location"]["ok"]["latitude"] <= 90
        km = vehicle["odometer"]["ok"]["distance"]
        miles = vehicle["odometer_imperial"]["ok"]["distance"]
        assert miles == pytest.approx(km / 1.609344, rel=1e-3)
        assert set(vehicle["tire_pressure"]["ok"]) == {
            "front_left",
            "front_right",
            "back_left",
            "back_right",
        }
        assert vehicle["lock"]["ok"]["status"] == "success"
        assert vehicle["unlock"]["ok"]["status"] == "success"
        assert "read_odometer" in vehicle["permissions"]
        lock = vehicle["batch"]["lock_status"]["ok"]
        assert lock["is_locked"] is False  # the batch ran after unlock
        assert vehicle["batch"]["odometer"]["ok"]["distance"] == pytest.approx(km, abs=1)
        if powertrain_has_fuel:
            assert "ok" in vehicle["engine_oil"]
        else:  # EVs answer fuel and oil like the real API
            assert vehicle["fuel"]["error"]["code"] == "VEHICLE_NOT_CAPABLE"
            assert vehicle["fuel"]["error"]["status"] == 501
            assert vehicle["batch"]["fuel"]["error"]["code"] == "VEHICLE_NOT_CAPABLE"
        if "error" in vehicle["battery"]:
            assert vehicle["battery"]["error"]["type"] == "COMPATIBILITY"
            assert vehicle["charge"]["error"]["code"] == "VEHICLE_NOT_CAPABLE"
        else:
            assert 0 <= vehicle["battery"]["ok"]["percent_remaining"] <= 1
            assert vehicle["charge"]["ok"]["state"] in ("CHARGING", "NOT_CHARGING", "FULLY_CHARGED")

    assert r["disconnect"] == "success"
    assert r["after_disconnect"]["error"]["type"] == "AUTHENTICATION"
    assert r["after_disconnect"]["error"]["status"] == 401
    assert r["compatibility"] == {"compatible": True, "n": 2}

    expected = {
        "VEHICLE_STATE.ASLEEP@x.test": ("VEHICLE_STATE", "ASLEEP", 409),
        "VEHICLE_STATE.DOOR_OPEN@x.test": ("VEHICLE_STATE", "DOOR_OPEN", 409),
        "RATE_LIMIT.VEHICLE@x.test": ("RATE_LIMIT", "VEHICLE", 429),
        "SERVER.INTERNAL@x.test": ("SERVER", "INTERNAL", 500),
        "UPSTREAM.NO_RESPONSE@x.test": ("UPSTREAM", "NO_RESPONSE", 502),
        "CONNECTED_SERVICES_ACCOUNT.ACCOUNT_ISSUE@x.test": (
            "CONNECTED_SERVICES_ACCOUNT",
            "ACCOUNT_ISSUE",
            400,
        ),
        "AUTHENTICATION.NULL@x.test": ("AUTHENTICATION", None, 401),
    }
    for email, (type_, code, status) in expected.items():
        seen = r["forced"][email]
        for where in ("read", "batch"):
            error = seen[where]["error"]
            assert (error["type"], error["code"], error["status"]) == (type_, code, status), email
            assert error["request_id"]
        assert "ok" in seen["vin"], "static endpoints are not faulted"
    assert r["forced"]["RATE_LIMIT.VEHICLE@x.test"]["read"]["error"]["retry_after"] == "30"
    assert r["forced"]["RATE_LIMIT.VEHICLE@x.test"]["batch"]["error"]["retry_after"] == "30"
