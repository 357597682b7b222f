"""Fixtures: a simulator on the test's own loop (real localhost socket) and a fake clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest_asyncio

from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.simulator import (
    RunningSimulator,
    SimulatorConfig,
    VehicleSpec,
    start_simulator,
)

REDIRECT = "http://localhost:8765/callback"
CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"

#: A small fixed fleet: one of each powertrain owned by one login, plus unowned cars.
FLEET = [
    VehicleSpec(
        "5YJ3E1EA7KF000001",
        "TESLA",
        "Model 3",
        2019,
        "bev",
        52.5,
        13.4,
        20000.0,
        "owner@fleet.test",
    ),
    VehicleSpec(
        "WBA5R1C50KA000002", "BMW", "330e", 2019, "phev", 52.51, 13.41, 30000.0, "owner@fleet.test"
    ),
    VehicleSpec(
        "1FADP3F20JL000003", "FORD", "Focus", 2018, "ice", 52.52, 13.42, 40000.0, "owner@fleet.test"
    ),
    VehicleSpec("JHMFC1F30LX000004", "HONDA", "Civic", 2020, "ice", 48.1, 11.5, 1000.0),
    VehicleSpec("KNDJ23AU5M7000005", "KIA", "EV6", 2021, "bev", 48.2, 11.6, 2000.0),
]


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest_asyncio.fixture
async def clock() -> FakeClock:
    return FakeClock()


async def start_test_simulator(
    clock: Callable[[], float] = time.time, **config: object
) -> RunningSimulator:
    """The simulator registered for the test app (CLIENT_ID, REDIRECT) with FLEET on ``clock``."""
    return await start_simulator(
        SimulatorConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(REDIRECT,),
            vehicles=list(FLEET),
            clock=clock,
            **config,
        )
    )


@pytest_asyncio.fixture
async def sim(clock: FakeClock) -> AsyncIterator[RunningSimulator]:
    running = await start_test_simulator(clock, rate_limit_capacity=40, rate_limit_refill_per_s=0.5)
    yield running
    await running.stop()


@pytest_asyncio.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[SmartcarClient]:
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    creds = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    async with SmartcarClient(origins, creds, timeout=httpx.Timeout(10.0)) as c:
        yield c


@pytest_asyncio.fixture
async def http(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, timeout=10.0) as h:
        yield h
