"""The modelled cloud latency: every vehicle request is held once, a batch too, nothing else.

The hold goes through the simulator's injectable ``sleep``; the test's own sleep parks the
request on an event, so "not answered before the latency has passed" is shown by the order of
events instead of by measuring wall time.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.integrations.smartcar import (
    DataKind,
    SmartcarClient,
    SmartcarCredentials,
    SmartcarOrigins,
)
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    FakeClock,
    start_test_simulator,
)
from tests.integration.integrations.smartcar.helpers import connect


class HeldSleep:
    """Records every hold and keeps it pending until the test releases it."""

    def __init__(self) -> None:
        self.holds: list[float] = []
        self.entered = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.holds.append(seconds)
        self.entered.set()
        await self.released.wait()


@pytest.mark.asyncio
async def test_api_latency_holds_each_vehicle_request_once(clock: FakeClock) -> None:
    sleep = HeldSleep()
    sim = await start_test_simulator(clock, api_latency_s=0.25, sleep=sleep)
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    creds = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    try:
        async with SmartcarClient(origins, creds, timeout=httpx.Timeout(10.0)) as client:
            token = (await connect(client)).access_token
            ids = await client.all_vehicle_ids(token)
            user = await client.get_user(token)
            assert sleep.holds == []  # Connect, token, vehicle list and user: no car involved

            kinds = [DataKind.VIN, DataKind.LOCATION, DataKind.ODOMETER, DataKind.LOCK_STATUS]
            batch = asyncio.create_task(client.batch(ids[0], token, kinds))
            await sleep.entered.wait()
            assert not batch.done()  # held inside the simulator, not yet answered
            sleep.released.set()
            result = await batch
            await client.odometer(ids[1], token)
            assert sleep.holds == [0.25, 0.25]  # the 4-item batch once, the single read once

            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                refused = await http.post("/_sim/latency", json={"api_latency_ms": -1})
                changed = await http.post("/_sim/latency", json={"api_latency_ms": 0})
            await client.odometer(ids[1], token)
    finally:
        await sim.stop()
    assert user.value.id
    assert all(item.reading is not None for item in result.items.values())
    assert (refused.status_code, changed.json()) == (400, {"api_latency_ms": 0})
    assert sleep.holds == [0.25, 0.25]  # latency switched off at runtime: no further hold
