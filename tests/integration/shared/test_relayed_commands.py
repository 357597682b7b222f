"""A shared-mode console's lock/unlock, relayed through a real CommandRelay on PostgreSQL.

The collector's execution path is a recording VehicleCommands here (the Smartcar path
through the relay is covered in test_command_relay.py): what is under test is the
console's side, queue -> relay -> outcome, and that an unanswered request ends timed out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from app.config import Settings
from app.models.command_audit import CommandAudit
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.commands.collector_relay import CommandRelay, claim_next
from app.services.commands.console_requests import RelayedCommands
from app.services.commands.senders import CommandOutcome, LockReading, RoutedCommands
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import Role
from tests.helpers.waiting import until


@dataclass
class Executor:
    """The collector's command path: locks succeed, unlocks are refused."""

    sent: list[tuple[int, str, str]] = field(default_factory=list)

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.sent.append((vehicle_id, "lock", reason))
        return CommandOutcome(True, "lock", "", LockReading(True, ()))

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.sent.append((vehicle_id, "unlock", reason))
        return CommandOutcome(False, "unlock", "Smartcar VEHICLE_STATE — asleep")

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        raise AssertionError("the relay never reads")


async def _no_reading(vehicle_id: int) -> LockReading:
    return LockReading(None, ())


def _car(db: Database) -> int:
    (car,) = VehicleRepository(db).add_many(
        [VehicleFields(name="Focus", fleet_number="F-1", kind="car")]
    )
    return car


def _rows(db: Database, vehicle_id: int) -> list[tuple[str, str, str, str]]:
    return [
        (e.channel, e.action, e.state, e.error) for e in CommandAudit(db).for_vehicle(vehicle_id)
    ]


@pytest.mark.asyncio
async def test_a_console_lock_is_executed_by_the_relay_and_returns_its_outcome(db):
    car = _car(db)
    executor = Executor()
    relay = CommandRelay(db, executor, sweep_s=5.0)  # long sweep: the NOTIFY wakes it
    console = RelayedCommands(db, _no_reading, timeout_s=20, poll_s=0.05)
    running = asyncio.get_running_loop().create_task(relay.run())
    try:
        locked = await console.lock(car, reason="rental #4")
        assert locked == CommandOutcome(True, "lock", "", LockReading(True, ()))
        refused = await console.unlock(car)
        assert not refused.ok and refused.error == "Smartcar VEHICLE_STATE — asleep"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    user, host = console.actor_user, console.actor_host
    assert [(v, a) for v, a, _ in executor.sent] == [(car, "lock"), (car, "unlock")]
    assert executor.sent[0][2].endswith(f"of postgres ({user}@{host}): rental #4")
    assert sorted(_rows(db, car)) == [
        ("relay", "lock", "confirmed", ""),
        ("relay", "unlock", "failed", "Smartcar VEHICLE_STATE — asleep"),
    ]


@pytest.mark.asyncio
async def test_an_unanswered_request_times_out_and_is_never_sent_later(db):
    car = _car(db)
    console = RelayedCommands(db, _no_reading, timeout_s=0.3, poll_s=0.05)
    outcome = await console.unlock(car, reason="nobody listens")
    assert not outcome.ok
    assert "timed out" in outcome.error and "not sent" in outcome.error
    ((channel, action, state, error),) = _rows(db, car)
    assert (channel, action, state) == ("relay", "unlock", "timed_out")
    assert error == outcome.error
    # A collector that starts afterwards finds nothing to execute.
    executor = Executor()
    assert await CommandRelay(db, executor).sweep() == 0
    assert executor.sent == []


@pytest.mark.asyncio
async def test_a_request_claimed_but_never_finished_times_out_as_outcome_unknown(db):
    car = _car(db)
    console = RelayedCommands(db, _no_reading, timeout_s=1.0, poll_s=0.05)
    asking = asyncio.get_running_loop().create_task(console.lock(car))

    # A relay that claims it, then dies mid-command.
    claim = partial(claim_next, db, datetime.now(UTC), timedelta(minutes=1))
    await until(lambda: claim() is not None, 10, "the request to be claimed")
    outcome = await asking
    assert not outcome.ok and "may still have been sent" in outcome.error
    assert _rows(db, car)[0][2] == "timed_out"


def test_only_a_shared_console_relays_its_commands(tmp_path, pg_url):
    def build(name: str, url: str | None, role: Role) -> object:
        paths = resolve_paths(tmp_path / name).ensure()
        context = open_context(Settings(), paths, db_url=url, role=role)
        try:
            assert context.rentals.commands is context.commands  # built once, shared
            return context.commands
        finally:
            context.close()

    assert isinstance(build("console", pg_url, Role.CONSOLE), RelayedCommands)
    assert isinstance(build("collector", pg_url, Role.COLLECTOR), RoutedCommands)
    assert isinstance(build("demo", None, Role.CONSOLE), RoutedCommands)
