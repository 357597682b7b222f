"""The telemetry cron against the Smartcar simulator over real localhost HTTP.

Connections are made the way the app makes them: Connect is walked over HTTP, the code
exchanged at the simulator's token endpoint, and a ``smartcar_connection`` row written.
``DbRefresher`` is a tiny stand-in for the real token refresher (tokens kept as plain
bytes in the token columns: test data only).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from sqlalchemy.orm import undefer

from app.config import TelemetrySettings
from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import OAuthTokenError
from app.integrations.smartcar.simulator import RunningSimulator
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.poll import ReportHealth
from app.services.telemetry.writer import TelemetryWriter
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    FakeClock,
    start_test_simulator,
)
from tests.integration.integrations.smartcar.helpers import connect


@dataclass
class DbRefresher:
    """ensure_fresh_token / mark_expired on the database and the simulator's token endpoint."""

    db: Database
    client: SmartcarClient
    clock: FakeClock
    refreshes: int = 0
    expired: list[tuple[int, str]] = field(default_factory=list)

    def _row(self, connection_id: int) -> SmartcarConnection:
        with self.db.session() as session:
            # The token columns are deferred (people may not read them): load them now.
            return session.get_one(SmartcarConnection, connection_id, options=[undefer("*")])

    async def ensure_fresh_token(self, connection_id: int, *, rejected: str | None = None):
        row = await self.db.run(self._row, connection_id)
        access = row.access_token_enc.decode()
        now = datetime.fromtimestamp(self.clock(), UTC)
        if rejected != access and row.access_expires_at > now:
            return access
        try:
            fresh = await self.client.auth.refresh(row.refresh_token_enc.decode())
        except OAuthTokenError:
            return None
        self.refreshes += 1

        def save() -> None:
            with self.db.session() as session:
                stored = session.get_one(SmartcarConnection, connection_id)
                stored.access_token_enc = fresh.access_token.encode()
                stored.refresh_token_enc = fresh.refresh_token.encode()
                stored.access_expires_at = fresh.expires_at

        await self.db.run(save)
        return fresh.access_token

    async def mark_expired(self, connection_id: int, reason: str) -> None:
        self.expired.append((connection_id, reason))

        def save() -> None:
            with self.db.session() as session:
                stored = session.get_one(SmartcarConnection, connection_id)
                stored.status, stored.status_reason = "expired", reason

        await self.db.run(save)


@dataclass
class Rig:
    sim: RunningSimulator
    client: SmartcarClient
    db: Database
    clock: FakeClock
    writer: TelemetryWriter
    refresher: DbRefresher
    http: httpx.AsyncClient
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def connect_car(self, vin: str, email: str = "owner@fleet.test") -> tuple[int, int]:
        """Walk Connect for one car; returns (vehicle_id, connection_id)."""
        tokens = await connect(self.client, email, single_select_vin=vin)
        [smartcar_id] = await self.client.all_vehicle_ids(tokens.access_token)
        repo = VehicleRepository(self.db)
        fields = VehicleFields(name=vin, fleet_number=vin[-6:], kind="car", vin=vin)
        vehicle_id = await self.db.run(repo.add, fields)

        def save() -> int:
            with self.db.session() as session:
                row = SmartcarConnection(
                    vehicle_id=vehicle_id,
                    smartcar_vehicle_id=smartcar_id,
                    status="active",
                    access_token_enc=tokens.access_token.encode(),
                    refresh_token_enc=tokens.refresh_token.encode(),
                    access_expires_at=tokens.expires_at,
                    refresh_expires_at=tokens.refresh_expires_at,
                    has_tokens=True,
                    connected_at=datetime.now(UTC),
                )
                session.add(row)
                session.flush()
                return row.id

        return vehicle_id, await self.db.run(save)

    def cron(self, report_health: ReportHealth | None = None, **settings: int) -> TelemetryCron:
        # A budget large enough that pacing never stretches the interval, unless a test
        # sets its own.
        defaults = {"poll_interval_s": 300, "max_concurrent_requests": 4}
        values = defaults | {"monthly_request_budget": 1_000_000} | settings
        cron = TelemetryCron(
            self.client,
            self.writer,
            self.db,
            ensure_fresh_token=self.refresher.ensure_fresh_token,
            mark_expired=self.refresher.mark_expired,
            report_health=report_health,
            settings=TelemetrySettings(**values),
            clock=self.clock,
            rng=random.Random(3),
            request_timeout_s=5.0,
        )
        self.tasks.append(asyncio.get_running_loop().create_task(cron.run()))
        return cron

    async def sim_state(self, vin: str, **state: object) -> None:
        (await self.http.post(f"/_sim/vehicles/{vin}/state", json=state)).raise_for_status()

    async def sim_faults(self, **faults: object) -> None:
        (await self.http.post("/_sim/faults", json=faults)).raise_for_status()


@pytest_asyncio.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    sim = await start_test_simulator(clock, rate_limit_capacity=40, rate_limit_refill_per_s=0.5)
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    creds = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    client = SmartcarClient(
        SmartcarOrigins.for_simulator(sim.base_url), creds, timeout=httpx.Timeout(2.0)
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    http = httpx.AsyncClient(base_url=sim.base_url, timeout=10.0)
    rig = Rig(sim, client, db, clock, writer, DbRefresher(db, client, clock), http)
    rig.tasks.append(asyncio.get_running_loop().create_task(writer.run()))
    try:
        yield rig
    finally:
        for task in rig.tasks:
            task.cancel()
        await asyncio.gather(*rig.tasks, return_exceptions=True)
        await http.aclose()
        await client.aclose()
        await sim.stop()
        db.close()
