"""What polls do to a connection's health and to the next poll, against the real simulator.

Each failure kind keeps its own back-off; transient failures turn the connection to Error
after three in a row, an account problem at once, and the next good read clears both.
"""

from __future__ import annotations

import pytest

from app.listeners import Listeners
from app.models.connections import ConnectionRepository
from app.models.orm import SmartcarConnection
from app.services.connections.health import active_reason
from app.services.telemetry.runtime import PollHealthStore
from app.services.telemetry.status import PollState
from tests.helpers.waiting import until

FORD, BMW = "1FADP3F20JL000003", "WBA5R1C50KA000002"


def connection(db, connection_id: int) -> SmartcarConnection:
    with db.session() as session:
        return session.get_one(SmartcarConnection, connection_id)


async def first_cycle(rig, cron) -> None:
    await until(lambda: cron.status().last_cycle_at is not None, 10, "the first cycle")
    await rig.writer.flush()


def health_store(rig, heard: list[int]) -> PollHealthStore:
    changes: Listeners[[int]] = Listeners("connection changes")
    changes.subscribe(heard.append)
    return PollHealthStore(rig.db, ConnectionRepository(rig.db), changes)


@pytest.mark.asyncio
async def test_one_asleep_after_a_run_of_server_errors_waits_the_asleep_minimum(rig):
    vehicle_id, _ = await rig.connect_car(BMW)
    await rig.sim_faults(error_type="SERVER", error_code="INTERNAL")
    cron = rig.cron()
    await first_cycle(rig, cron)
    for _ in range(3):
        status = await cron.poll_now(vehicle_id)
    assert status.state is PollState.BACKOFF and status.failures == 4
    await rig.sim_faults()
    await rig.sim_state(BMW, asleep=True)
    status = await cron.poll_now(vehicle_id)
    assert status.state is PollState.ASLEEP and status.failures == 5
    # The first "asleep": 30 minutes, not the 8 h (capped at 6) the 5xx streak used to earn.
    assert 1799.9 <= status.next_poll_at.timestamp() - rig.clock() <= 1800.1
    await rig.sim_state(BMW, asleep=False)
    status = await cron.poll_now(vehicle_id)
    assert status.state is PollState.OK and status.failures == 0


@pytest.mark.asyncio
async def test_a_car_not_responding_turns_error_after_three_polls_and_a_read_clears_it(rig):
    vehicle_id, connection_id = await rig.connect_car(FORD)
    heard: list[int] = []
    await rig.sim_faults(error_type="UPSTREAM", error_code="NO_RESPONSE")
    cron = rig.cron(report_health=health_store(rig, heard))
    await first_cycle(rig, cron)
    await cron.poll_now(vehicle_id)
    assert connection(rig.db, connection_id).status == "active"  # two failures: weather
    await cron.poll_now(vehicle_id)
    await rig.writer.flush()
    row = connection(rig.db, connection_id)
    assert row.status == "error" and row.status_reason.startswith("Car not responding")
    assert "UPSTREAM:NO_RESPONSE" in row.status_reason and vehicle_id in heard
    assert "UPSTREAM:NO_RESPONSE" in row.last_error and row.last_error_at is not None
    await rig.sim_faults()
    assert (await cron.poll_now(vehicle_id)).state is PollState.OK
    await rig.writer.flush()
    row = connection(rig.db, connection_id)
    assert (row.status, row.last_error, row.last_error_at) == ("active", "", None)
    assert row.status_reason == active_reason(row.granted_scopes or ())


@pytest.mark.asyncio
async def test_an_account_problem_needs_the_owner_at_once(rig):
    vehicle_id, connection_id = await rig.connect_car(FORD)
    await rig.sim_faults(error_type="CONNECTED_SERVICES_ACCOUNT", error_code="ACCOUNT_ISSUE")
    cron = rig.cron(report_health=health_store(rig, []))
    await first_cycle(rig, cron)
    row = connection(rig.db, connection_id)
    assert row.status == "error" and row.status_reason.startswith("Owner action needed")
    assert "manufacturer's app" in row.status_reason
    assert cron.vehicle_status(vehicle_id).state is PollState.BLOCKED
    await rig.sim_faults()
    assert (await cron.poll_now(vehicle_id)).state is PollState.OK
    assert connection(rig.db, connection_id).status == "active"
