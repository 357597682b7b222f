"""A rental rig: the Smartcar simulator (fake clock) on a real localhost socket, a migrated
SQLite database, the real ConnectionService (Connect walked over HTTP, encrypted tokens),
the telemetry writer, and the RentalService wired as the console wires it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import keyring.backends.fail
import pytest_asyncio

from app.config import KindSurcharges, LevelSurcharge, MileageSurcharge, Settings, SurchargeSettings
from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.models.database import Database, sqlite_url
from app.models.rentals import vehicle_basics
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.commands.senders import IotCommands, RoutedCommands, SmartcarCommands
from app.services.connections.backends import Backends
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.rentals.service import RentalService
from app.services.telemetry.vehicle_reads import SmartcarReader
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.service import VehicleService
from app.services.zones.service import ZoneService
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    FLEET,
    REDIRECT,
    FakeClock,
    start_test_simulator,
)
from tests.integration.integrations.smartcar.connect_walk import walk_connect

FORD = "1FADP3F20JL000003"  # combustion car of owner@fleet.test in the simulator's fleet
TESLA = "5YJ3E1EA7KF000001"

SETTINGS = Settings(
    surcharges=SurchargeSettings(
        car=KindSurcharges(
            fuel=LevelSurcharge(mode="per_unit", per_point=Decimal("0.50")),
            charge=LevelSurcharge(),
            mileage=MileageSurcharge(included_km_per_day=10.0, per_km=Decimal("0.30")),
        )
    )
)


@dataclass
class Rig:
    db: Database
    clock: FakeClock
    connections: ConnectionService
    rentals: RentalService
    reader: SmartcarReader
    http: httpx.AsyncClient
    vehicles: dict[str, int] = field(default_factory=dict)
    zones: ZoneService | None = None

    async def connect(self, vin: str) -> int:
        vehicle_id = self.vehicles[vin]
        url = self.connections.begin(vehicle_id, vin)
        redirect = await asyncio.to_thread(walk_connect, url, email="owner@fleet.test")
        auth = await self.connections.complete(redirect)
        plan = await self.connections.plan(auth)
        assert plan.match is not None
        record = await self.connections.link(auth, plan.match)
        return record.id

    async def sim_state(self, vin: str, **state: object) -> dict:
        response = await self.http.post(f"/_sim/vehicles/{vin}/state", json=state)
        response.raise_for_status()
        return response.json()

    async def sim_faults(self, **faults: object) -> None:
        (await self.http.post("/_sim/faults", json=faults)).raise_for_status()


@pytest_asyncio.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    sim = await start_test_simulator(clock)
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    credentials = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    client = SmartcarClient(origins, credentials, timeout=httpx.Timeout(10.0))
    backends = Backends(credentials, origins, client)
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    vehicle_service = VehicleService(db)
    ids = VehicleRepository(db).add_many(
        [
            VehicleFields(
                name=s.model,
                fleet_number=s.vin[-6:],
                kind="car",
                vin=s.vin,
                powertrain=s.powertrain,
            )
            for s in FLEET[:3]
        ]
    )
    now = lambda: datetime.fromtimestamp(clock(), UTC)  # noqa: E731
    connections = ConnectionService(
        db,
        vehicle_service,
        TokenCipher(tmp_path, keyring.backends.fail.Keyring()),
        backends,
        connect_mode="simulated",
        demo=True,
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    writer_task = asyncio.get_running_loop().create_task(writer.run())

    async def connection_type(vehicle_id: int) -> str | None:
        basics = await db.run(vehicle_basics, db, vehicle_id)
        return basics.connection_type if basics else None

    commands = RoutedCommands(
        connection_type,
        SmartcarCommands(db, connections, on_reading=writer.submit, clock=now),
        IotCommands(db, lambda: None),
    )
    reader = SmartcarReader(connections, writer, clock=now)
    zones = ZoneService(db, SETTINGS, clock=now)
    rentals = RentalService(
        db, SETTINGS, commands, reader=reader, clock=now, operator="tester", zones=zones
    )
    http = httpx.AsyncClient(base_url=sim.base_url, timeout=10.0)
    rig = Rig(
        db,
        clock,
        connections,
        rentals,
        reader,
        http,
        {s.vin: i for s, i in zip(FLEET[:3], ids, strict=True)},
        zones,
    )
    try:
        yield rig
    finally:
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
        await http.aclose()
        await client.aclose()
        await sim.stop()
        db.close()
