"""The official smartcar SDK (6.19) calling API V3 on the simulator, in a subprocess.

``get_vehicle``/``get_signals``/``get_signal`` send a per-vehicle token and no ``sc-user-id``
(the simulator accepts that); commands go through ``Vehicle.request`` with version "3", an
application token and ``sc-user-id``, as the SDK documentation suggests for V3 paths it has no
helper for.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import REDIRECT
from tests.integration.integrations.smartcar.v3_helpers import TESLA_VIN, vid

ROOT = Path(__file__).resolve().parents[4]


async def run_sdk_v3(sim: RunningSimulator, vehicle_id: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "SMARTCAR_VEHICLE_API_V3_ORIGIN": sim.base_url,
        "SMARTCAR_API_ORIGIN": sim.base_url,
        "SMARTCAR_AUTH_ORIGIN": sim.token_url,
        "SMARTCAR_CONNECT_ORIGIN": sim.base_url,
        "PYTHONPATH": str(ROOT),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.integrations.smartcar.sdk_v3_scenario",
        REDIRECT,
        vehicle_id,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    return dict(json.loads(out))


@pytest.mark.asyncio
async def test_official_sdk_v3_calls(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    state = {"activity": "parked", "asleep": False, "open_doors": [], "locked": False}
    assert (await http.post(f"/_sim/vehicles/{TESLA_VIN}/state", json=state)).status_code == 200
    tesla = vid(sim, TESLA_VIN)
    r = await run_sdk_v3(sim, tesla)

    assert r["vehicle"]["data"]["id"] == tesla
    assert r["vehicle"]["data"]["attributes"] == {
        "make": "TESLA",
        "model": "Model 3",
        "year": 2019,
        "mode": "simulated",
        "powertrainType": "BEV",
    }
    assert r["vehicle_request_id"]

    signals = {s["id"]: s for s in r["signals"]["data"]}
    assert r["signals"]["meta"]["totalCount"] == len(signals) == 23
    assert signals["tractionbattery-stateofcharge"]["attributes"]["status"] == {"value": "SUCCESS"}
    fuel = signals["internalcombustionengine-fuellevel"]["attributes"]["status"]
    assert fuel["error"]["code"] == "VEHICLE_NOT_CAPABLE"
    assert r["signals"]["included"]["vehicle"]["id"] == tesla

    odometer = r["odometer"]["data"]["attributes"]
    assert odometer["code"] == "odometer-traveleddistance"
    assert odometer["body"]["unit"] == "km" and odometer["body"]["value"] > 0

    unknown = r["unknown_signal"]
    assert (unknown["type"], unknown["status"]) == ("SDK_ERROR", 404)
    assert json.loads(unknown["message"])["errors"][0]["type"] == "RESOURCE_NOT_FOUND"
    assert unknown["request_id"]

    lock = r["lock"]["body"]["data"]
    assert lock["type"] == "command-execution"
    assert lock["attributes"]["commandType"] == "security-lock"
    assert lock["attributes"]["status"] == {"value": "SUCCESS"}
    assert r["lock"]["request_id"]
    assert r["set_limit"]["data"]["attributes"]["parameters"] == {"percent": 80}
    assert r["locked_after"] is True
    assert sim.state.vehicles[tesla].locked is True
    assert sim.state.vehicles[tesla].charge_limit == pytest.approx(0.8)
