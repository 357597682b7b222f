"""The telemetry cron on the app's own parts: ConnectionService, TokenKeeper, health store.

Unlike ``conftest.Rig`` (a small token stand-in), cars here are connected the way the
console connects them (Connect walked over HTTP, ``ConnectionService.complete`` / ``link``,
tokens encrypted) and the cron gets its tokens from the real ``TokenKeeper`` through
``KeeperTokens``, exactly as ``start_telemetry`` wires it. Everything Smartcar-facing goes
through a :class:`FaultProxy` in front of the simulator; all clocks are one fake clock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import keyring.backends.fail

from app.config import TelemetrySettings
from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.simulator import (
    RunningSimulator,
    SimulatorConfig,
    VehicleSpec,
    start_simulator,
)
from app.models.database import Database, sqlite_url
from app.models.vehicles import VehicleFields
from app.services.connections.backends import Backends
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.runtime import KeeperTokens, PollHealthStore
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.service import VehicleService
from app.services.vehicles.validation import vin_check_digit
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    FakeClock,
)
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.services.telemetry.fault_proxy import FaultProxy

POWERTRAINS = ("bev", "ice", "phev")


def _vin(owner: int, car: int) -> str:
    draft = f"5YJ3E1EA0KF{owner:02d}{car:04d}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def fleet(owners: int, cars_each: int) -> list[VehicleSpec]:
    """Cars of a supported brand (Tesla WMI), owned ``cars_each`` per owner email."""
    return [
        VehicleSpec(
            _vin(o, c),
            "TESLA",
            "Model 3",
            2019,
            POWERTRAINS[(o * cars_each + c) % 3],
            52.5 + c * 0.001,
            13.4 + o * 0.001,
            10_000.0 + c,
            f"owner{o}@fleet.test",
        )
        for o in range(owners)
        for c in range(cars_each)
    ]


@dataclass
class KeeperRig:
    clock: FakeClock
    sim: RunningSimulator
    proxy: FaultProxy
    client: SmartcarClient
    db: Database
    vehicles: VehicleService
    service: ConnectionService
    writer: TelemetryWriter
    sim_http: httpx.AsyncClient
    tasks: list[asyncio.Task] = field(default_factory=list)
    vehicle_ids: dict[str, int] = field(default_factory=dict)  # VIN -> console vehicle id

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def add_vehicle(self, spec: VehicleSpec) -> int:
        fields = VehicleFields(name=spec.vin, fleet_number=spec.vin[-6:], kind="car", vin=spec.vin)
        vehicle_id = await self.vehicles.add(fields)
        self.vehicle_ids[spec.vin] = vehicle_id
        return vehicle_id

    async def connect_owner(self, email: str, vins: list[str]) -> None:
        """One Connect for all of ``email``'s cars, each linked to its console record."""
        first = self.vehicle_ids[vins[0]]
        url = self.service.begin(first, vins[0])
        redirect = await asyncio.to_thread(walk_connect, url, email=email)
        auth = await self.service.complete(redirect)
        by_vin = {car.vin: car for car in auth.cars}
        for vin in vins:
            await self.service.link(auth, by_vin[vin], self.vehicle_ids[vin])

    def cron(self, **settings: int) -> TelemetryCron:
        tokens = KeeperTokens(self.db, self.service, self.service.tokens)
        values = {"poll_interval_s": 300, "max_concurrent_requests": 4}
        values |= {"monthly_request_budget": 1_000_000} | settings
        cron = TelemetryCron(
            self.client,
            self.writer,
            self.db,
            ensure_fresh_token=tokens.ensure_fresh_token,
            mark_expired=tokens.mark_expired,
            report_health=PollHealthStore(self.db, self.service.repository, self.service.changes),
            settings=TelemetrySettings(**values),
            clock=self.clock,
            rng=random.Random(11),
            request_timeout_s=10.0,
        )
        self.service.changes.subscribe(cron.vehicle_connection_changed)
        self.service.connects.subscribe(cron.connected)
        self.tasks.append(asyncio.get_running_loop().create_task(cron.run()))
        return cron

    async def sim_state(self, vin: str, **state: object) -> None:
        (await self.sim_http.post(f"/_sim/vehicles/{vin}/state", json=state)).raise_for_status()


async def keeper_rig(
    tmp_path: Path, specs: list[VehicleSpec], *, timeout_s: float = 1.0
) -> AsyncIterator[KeeperRig]:
    clock = FakeClock()
    sim = await start_simulator(
        SimulatorConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(REDIRECT,),
            vehicles=specs,
            clock=clock,
            rate_limit_capacity=10_000,
        )
    )
    proxy = FaultProxy(sim.base_url, clock)
    await proxy.start()
    credentials = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    origins = SmartcarOrigins.for_simulator(proxy.base_url)
    client = SmartcarClient(origins, credentials, timeout=httpx.Timeout(timeout_s), clock=clock)
    backends = Backends(credentials=credentials, origins=origins, smartcar=client)
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    vehicles = VehicleService(db)
    service = ConnectionService(
        db,
        vehicles,
        TokenCipher(tmp_path, keyring.backends.fail.Keyring()),
        backends,
        connect_mode="simulated",
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    sim_http = httpx.AsyncClient(base_url=sim.base_url, timeout=10.0)
    rig = KeeperRig(clock, sim, proxy, client, db, vehicles, service, writer, sim_http)
    rig.tasks.append(asyncio.get_running_loop().create_task(writer.run()))
    try:
        yield rig
    finally:
        for task in rig.tasks:
            task.cancel()
        await asyncio.gather(*rig.tasks, return_exceptions=True)
        await sim_http.aclose()
        await client.aclose()
        await proxy.stop()
        await sim.stop()
        db.close()
