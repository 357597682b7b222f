"""Fixtures: a demo database, the real Smartcar simulator on a localhost socket, the service.

The simulator holds the demo fleet's cars (as in demo mode); Connect is walked over plain
HTTP in a worker thread (the same pages the embedded web view shows).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import keyring.backends.fail
import pytest_asyncio

from app.config import DemoSettings, Settings, SmartcarSettings
from app.paths import resolve_paths
from app.services.connections.backends import Backends, start_backends
from app.services.connections.connect_results import Authorization
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import AppContext
from tests.integration.integrations.smartcar.connect_walk import walk_connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """UTC time that a test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Env:
    context: AppContext
    backends: Backends
    service: ConnectionService
    clock: Clock

    def car(self, index: int = 0):
        cars = [r for r in self.context.vehicles.repository.list_rows() if r.kind == "car"]
        return cars[index]

    async def authorize(
        self, vehicle_id: int, vin: str | None, *, email: str = "owner@x.test", decision="allow"
    ) -> Authorization:
        url = self.service.begin(vehicle_id, vin)
        redirect = await asyncio.to_thread(walk_connect, url, email=email, decision=decision)
        return await self.service.complete(redirect)

    async def connect(self, index: int = 0, email: str = "owner@x.test"):
        row = self.car(index)
        auth = await self.authorize(row.id, row.vin, email=email)
        plan = await self.service.plan(auth)
        assert plan.match is not None
        return await self.service.link(auth, plan.match)


@pytest_asyncio.fixture
async def env(tmp_path) -> AsyncIterator[Env]:
    settings = Settings(
        demo=DemoSettings(cars=4, micromobility=2),
        smartcar=SmartcarSettings(
            api_version="2.0", redirect_uri=f"http://127.0.0.1:{free_port()}/sc/callback"
        ),
    )
    context = open_context(settings, resolve_paths(tmp_path / "data").ensure())
    backends = await start_backends(settings, demo=True, offline=False)
    clock = Clock()
    service = ConnectionService(
        context.database,
        context.vehicles,
        TokenCipher(context.paths.data_dir, keyring.backends.fail.Keyring()),
        backends,
        connect_mode="simulated",
        demo=True,
        clock=clock,
    )
    yield Env(context, backends, service, clock)
    await backends.aclose()
    context.close()
