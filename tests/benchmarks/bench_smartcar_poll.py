"""One telemetry poll of 1,000 simulated cars: our client (batch, bounded concurrency) vs the
official SDK calling each endpoint in a loop, against the same simulator in the same run.

The simulator runs in its own process (``simulator.main`` with ``--port 0``) so neither client
shares a CPU-bound event loop with the server. The data read is everything the eight Connect
permissions cover: attributes, VIN, location, odometer, fuel, battery and lock status. The SDK
loop is measured on a sample of cars and scaled to the fleet (it is linear: one synchronous
request after another).

Two scenarios, one simulator (switched through ``POST /_sim/latency``):

(a) zero latency: localhost answers at once, so both sides only spend per-request CPU. The
    ratio is bounded by how much CPU seven small requests cost against one batch request; it
    says little about the cloud and carries no target.
(b) ``LATENCY_MS`` per API request: the cloud reaches the car on every call (typically 3-45 s,
    smartcar-api.md section 1); 100 ms is a conservative stand-in. This is what batching (one
    wait per car instead of seven) and bounded concurrency are for, so the >= 20x target is
    read here. Where latency dominates, ours tends to ``FLEET * latency / CONCURRENCY`` and
    the SDK loop to ``FLEET * 7 * latency``: the ratio approaches ``7 * CONCURRENCY`` (56x).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from app.integrations.smartcar import (
    DataKind,
    SmartcarClient,
    SmartcarCredentials,
    SmartcarOrigins,
    connect_scope_param,
)
from app.integrations.smartcar.transport import new_http_client
from tests.benchmarks.harness import Result
from tests.integration.integrations.smartcar.connect_walk import walk_connect

FLEET = 1000
CONCURRENCY = 8
LATENCY_MS = 100
#: (API latency in ms, SDK sample size, label); the sample shrinks where every call waits.
SCENARIOS = (
    (0, 100, "(a) 0 ms latency"),
    (LATENCY_MS, 20, f"(b) {LATENCY_MS} ms latency"),
)
OWNER = "bench@fleet.test"
CLIENT_ID, SECRET, REDIRECT = "bench-app", "bench-secret", "http://localhost/cb"
KINDS = [
    DataKind.ATTRIBUTES,
    DataKind.VIN,
    DataKind.LOCATION,
    DataKind.ODOMETER,
    DataKind.FUEL,
    DataKind.BATTERY,
    DataKind.LOCK_STATUS,
]
ROOT = Path(__file__).resolve().parents[2]


def _start_simulator() -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys; from app.integrations.smartcar.simulator import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--port",
            "0",
            "--vehicles",
            str(FLEET),
            "--seed",
            "1",
            "--owner-email",
            OWNER,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
            "--rate-limit",
            "1000",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _set_latency(base_url: str, latency_ms: int) -> None:
    answer = httpx.post(f"{base_url}/_sim/latency", json={"api_latency_ms": latency_ms})
    answer.raise_for_status()


async def _connect(base_url: str) -> tuple[str, list[str]]:
    """Token and vehicle ids of the fleet owner; Connect and the id list are never held."""
    creds = SmartcarCredentials(CLIENT_ID, SECRET, REDIRECT)
    async with SmartcarClient(SmartcarOrigins.for_simulator(base_url), creds) as c:
        url = c.auth.connect_url([*connect_scope_param()], "bench", mode="simulated")
        redirect = await asyncio.to_thread(walk_connect, url, email=OWNER)
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        token = (await c.auth.exchange_code(code)).access_token
        return token, await c.all_vehicle_ids(token)


async def _ours(base_url: str, token: str, ids: list[str]) -> tuple[float, int, int]:
    """One poll from a fresh client (connections opened inside the measurement)."""
    sent = 0

    async def count(request: httpx.Request) -> None:
        nonlocal sent
        sent += 1

    http = new_http_client(httpx.Timeout(60.0), max_connections=CONCURRENCY)
    http.event_hooks["request"].append(count)
    creds = SmartcarCredentials(CLIENT_ID, SECRET, REDIRECT)
    async with http, SmartcarClient(SmartcarOrigins.for_simulator(base_url), creds, http=http) as c:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def poll(vehicle_id: str) -> int:
            async with gate:
                result = await c.batch(vehicle_id, token, KINDS)
                return sum(item.reading is not None for item in result.items.values())

        start = time.perf_counter()
        readings = await asyncio.gather(*(poll(v) for v in ids))
        return time.perf_counter() - start, sent, sum(readings)


def _sdk(base_url: str, token: str, ids: list[str]) -> tuple[float, int]:
    os.environ["SMARTCAR_API_ORIGIN"] = base_url
    os.environ["SMARTCAR_AUTH_ORIGIN"] = f"{base_url}/oauth/token"
    os.environ["SMARTCAR_CONNECT_ORIGIN"] = base_url
    import smartcar  # after the env vars: the SDK reads its origins at import time

    requests_made = 0
    start = time.perf_counter()
    for vehicle_id in ids:
        vehicle = smartcar.Vehicle(vehicle_id, token)
        for method in (
            "attributes",
            "vin",
            "location",
            "odometer",
            "fuel",
            "battery",
            "lock_status",
        ):
            requests_made += 1
            try:
                getattr(vehicle, method)()
            except smartcar.SmartcarException as exc:
                if exc.code != "VEHICLE_NOT_CAPABLE":
                    raise
    return time.perf_counter() - start, requests_made


def _scenario(
    base_url: str, token: str, ids: list[str], scenario: tuple[int, int, str]
) -> list[Result]:
    latency_ms, sample, label = scenario
    ours_s, ours_requests, readings = asyncio.run(_ours(base_url, token, ids))
    sdk_sample_s, sdk_requests = _sdk(base_url, token, ids[:sample])
    sdk_s = sdk_sample_s * FLEET / sample
    ratio = sdk_s / ours_s
    name = "smartcar_poll"
    ratio_result = (
        Result(name, f"{label}: wall-time ratio SDK / ours", ratio, "x", ">= 20x", ratio >= 20)
        if latency_ms
        else Result(name, f"{label}: wall-time ratio SDK / ours (CPU-bound localhost)", ratio, "x")
    )
    return [
        Result(
            name, f"{label}: ours: poll {FLEET} cars (batch, {CONCURRENCY} in flight)", ours_s, "s"
        ),
        Result(
            name,
            f"{label}: ours: requests per vehicle",
            ours_requests / FLEET,
            "req",
            "1",
            ours_requests == FLEET,
        ),
        Result(name, f"{label}: ours: readings parsed per vehicle", readings / FLEET, "items"),
        Result(name, f"{label}: SDK loop: {sample} cars measured, scaled to {FLEET}", sdk_s, "s"),
        Result(name, f"{label}: SDK loop: requests per vehicle", sdk_requests / sample, "req"),
        ratio_result,
    ]


def run() -> list[Result]:
    proc, base_url = _start_simulator()
    try:
        token, ids = asyncio.run(_connect(base_url))
        assert len(ids) == FLEET
        results = []
        for scenario in SCENARIOS:
            _set_latency(base_url, scenario[0])
            results += _scenario(base_url, token, ids, scenario)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return results
