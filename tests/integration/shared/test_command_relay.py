"""Commands through the collector, on a real PostgreSQL and the Smartcar simulator.

The "console" only writes a queued request (and NOTIFY); the relay, wired as the collector
wires it (RoutedCommands -> SmartcarCommands over real HTTP), sends it, and the outcome
comes back on the change feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import keyring.backends.fail
import pytest
import pytest_asyncio

from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.models.command_audit import CommandAudit
from app.models.database import Database
from app.models.orm import Command
from app.models.rentals import vehicle_basics
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.change_feed import Change, ChangeListener
from app.services.commands.collector_relay import CommandRelay, queue_command
from app.services.commands.senders import IotCommands, RoutedCommands, SmartcarCommands
from app.services.connections.backends import Backends
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.vehicles.service import VehicleService
from tests.helpers.waiting import until
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    start_test_simulator,
)
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.shared.collectors import CollectorProcess, write_settings

FORD = "1FADP3F20JL000003"  # a car of owner@fleet.test in the simulator's fleet


@dataclass
class Rig:
    db: Database
    relay: CommandRelay
    http: httpx.AsyncClient
    ford: int
    bike: int
    changes: list[Change]

    def request(self, vehicle_id: int, action: str, **kw: object) -> int:
        return queue_command(
            self.db, vehicle_id, action, actor_user="alice", actor_host="desk-7", **kw
        )

    def rows(self, vehicle_id: int) -> dict[int, tuple[str, str, str, str]]:
        entries = CommandAudit(self.db).for_vehicle(vehicle_id)
        return {e.id: (e.channel, e.state, e.error, e.reason) for e in entries}

    async def car_locked(self) -> bool:
        response = await self.http.get("/_sim/vehicles")
        response.raise_for_status()
        return next(v["locked"] for v in response.json() if v["vin"] == FORD)


@pytest_asyncio.fixture
async def rig(tmp_path, pg_url) -> AsyncIterator[Rig]:
    sim = await start_test_simulator()
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    credentials = SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    client = SmartcarClient(origins, credentials, timeout=httpx.Timeout(10.0))
    backends = Backends(credentials, origins, client)
    db = Database(pg_url)
    db.migrate()
    ford, bike = VehicleRepository(db).add_many(
        [
            VehicleFields(name="Focus", fleet_number="F-1", kind="car", vin=FORD),
            VehicleFields(name="Bike", fleet_number="B-1", kind="e-bike"),
        ]
    )
    connections = ConnectionService(
        db,
        VehicleService(db),
        TokenCipher(tmp_path, keyring.backends.fail.Keyring()),
        backends,
        connect_mode="simulated",
        demo=True,
    )
    url = connections.begin(ford, FORD)
    auth = await connections.complete(
        await asyncio.to_thread(walk_connect, url, email="owner@fleet.test")
    )
    plan = await connections.plan(auth)
    assert plan.match is not None
    await connections.link(auth, plan.match)

    async def connection_type(vehicle_id: int) -> str | None:
        basics = await db.run(vehicle_basics, db, vehicle_id)
        return basics.connection_type if basics else None

    commands = RoutedCommands(
        connection_type, SmartcarCommands(db, connections), IotCommands(db, lambda: None)
    )
    relay = CommandRelay(db, commands, sweep_s=0.2, max_age_s=60)
    changes: list[Change] = []
    console = ChangeListener(pg_url, changes.append)  # the asking console's change feed
    http = httpx.AsyncClient(base_url=sim.base_url, timeout=10.0)
    (await http.post(f"/_sim/vehicles/{FORD}/state", json={"locked": True})).raise_for_status()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(console.run())]
    await asyncio.wait_for(console.listening.wait(), 10)
    try:
        yield Rig(db, relay, http, ford, bike, changes)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
        await client.aclose()
        await sim.stop()
        db.close()


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.commands.collector_relay", r"command request")
async def test_a_queued_request_is_sent_by_the_relay_and_the_console_sees_the_outcome(rig):
    stale = rig.request(rig.ford, "unlock", at=datetime.now(UTC) - timedelta(minutes=5))
    running = asyncio.get_running_loop().create_task(rig.relay.run())
    try:
        await until(lambda: rig.rows(rig.ford)[stale][1] == "failed", 10, "the stale request")
        assert await rig.car_locked()  # expired: never sent

        unlock = rig.request(rig.ford, "unlock", reason="customer locked out")
        await until(lambda: (unlock, "confirmed") in rig.relay.done, 20, "the unlock")
        assert not await rig.car_locked()
        rows = rig.rows(rig.ford)
        assert rows[unlock] == ("relay", "confirmed", "", "customer locked out")
        assert "expired" in rows[stale][2]
        execution = [r for i, r in rows.items() if r[0] == "smartcar"]
        assert len(execution) == 1 and execution[0][1] == "confirmed"
        assert f"request #{unlock} of postgres (alice@desk-7)" in execution[0][3]

        # The console heard queued -> sent -> confirmed for its request.
        await until(
            lambda: Change("command", rig.ford, unlock, "confirmed") in rig.changes,
            10,
            "the outcome on the change feed",
        )
        states = [c.state for c in rig.changes if c.command_id == unlock]
        assert states == ["queued", "sent", "confirmed"]

        # A vehicle the collector cannot command: failed with the reason, nothing sent.
        refused = rig.request(rig.bike, "lock")
        await until(lambda: (refused, "failed") in rig.relay.done, 20, "the refusal")
        assert "no connection" in rig.rows(rig.bike)[refused][2]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.commands.collector_relay", r"command relay: requests")
async def test_requests_queued_while_no_relay_ran_are_swept_and_half_done_ones_failed(rig):
    first = rig.request(rig.ford, "unlock")
    second = rig.request(rig.ford, "lock")
    with rig.db.session() as session:  # a collector died after claiming this one
        session.get(Command, first).state = "sent"
    assert await rig.relay.sweep() == 1  # only the still-queued lock
    assert rig.rows(rig.ford)[second][1] == "confirmed"
    running = asyncio.get_running_loop().create_task(rig.relay.run())
    try:
        await until(lambda: rig.rows(rig.ford)[first][1] == "failed", 10, "the abandoned one")
        assert "outcome unknown" in rig.rows(rig.ford)[first][2]
        assert await rig.car_locked()  # the unlock was not sent a second time
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    with pytest.raises(ValueError, match="unknown command"):
        rig.request(rig.ford, "honk")


@pytest.mark.asyncio
async def test_the_leading_collector_runs_the_relay(tmp_path, pg_url):
    collector = CollectorProcess(pg_url, write_settings(tmp_path))
    try:
        await until(lambda: collector.saw("collector: LEADER"), 60, "the collector to lead")
        assert "command-relay" in collector.output()
    finally:
        collector.kill()
