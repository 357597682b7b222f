"""The cron polling real simulated cars over HTTP: data in, faults survived, budget kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models.orm import SmartcarConnection, TelemetrySample
from app.models.telemetry_queries import TelemetryQueries
from app.services.telemetry.status import PollState
from tests.helpers.waiting import until

TESLA, BMW, FORD = "5YJ3E1EA7KF000001", "WBA5R1C50KA000002", "1FADP3F20JL000003"


def samples(db, vehicle_id: int) -> int:
    with db.session() as session:
        query = select(func.count(TelemetrySample.id)).where(
            TelemetrySample.vehicle_id == vehicle_id
        )
        return session.scalar(query) or 0


def connection(db, connection_id: int) -> SmartcarConnection:
    with db.session() as session:
        return session.get_one(SmartcarConnection, connection_id)


async def first_cycle(rig, cron) -> None:
    await until(lambda: cron.status().last_cycle_at is not None, 10, "the first cycle")
    await rig.writer.flush()


@pytest.mark.asyncio
async def test_one_cycle_stores_every_connected_cars_readings(rig):
    cars = {vin: await rig.connect_car(vin) for vin in (TESLA, BMW, FORD)}
    await rig.sim_state(FORD, open_doors=["frontLeft", "rear"], locked=False)
    changed: list[int] = []
    cron = rig.cron()
    cron.changes.subscribe(changed.append)
    await first_cycle(rig, cron)
    status = cron.status()
    assert (status.last_cycle_vehicles, status.last_cycle_errors) == (3, 0)
    assert status.next_run_at is not None
    queries = TelemetryQueries(rig.db)
    for vin, (vehicle_id, connection_id) in cars.items():
        latest = await rig.db.run(queries.latest, vehicle_id)
        assert latest is not None, vin
        assert 52 < latest.get("latitude") < 53 and latest.get("odometer_km") > 0
        assert latest.get("range_km") > 0 and len(latest.get("tires_kpa")) == 4
        assert samples(rig.db, vehicle_id) == 1
        row = connection(rig.db, connection_id)
        assert row.last_sync_at is not None and row.last_error == ""
        assert row.requests_this_month == 7  # every batch sub-request is billed
        assert vehicle_id in changed
    tesla = await rig.db.run(queries.latest, cars[TESLA][0])
    ford = await rig.db.run(queries.latest, cars[FORD][0])
    assert tesla.get("battery_pct") is not None and tesla.get("fuel_pct") is None
    assert ford.get("fuel_pct") is not None and ford.get("oil_life_pct") is not None
    assert ford.get("doors")["frontLeft"] == "OPEN" and ford.get("doors")["trunk"] == "OPEN"
    assert ford.get("locked") is False
    # The EV is not asked for /fuel and /engine/oil again: that would be billed for nothing.
    assert "/fuel" not in cron.vehicle_status(cars[TESLA][0]).paths


@pytest.mark.asyncio
async def test_unchanged_readings_are_not_stored_twice_but_heard(rig):
    vehicle_id, _ = await rig.connect_car(FORD)
    await rig.sim_state(FORD, activity="parked")
    cron = rig.cron()
    await first_cycle(rig, cron)
    heard = (await rig.db.run(TelemetryQueries(rig.db).latest, vehicle_id)).last_heard_at
    rig.clock.advance(5)
    status = await cron.poll_now(vehicle_id)
    await rig.writer.flush()
    assert status.state is PollState.OK and samples(rig.db, vehicle_id) == 1
    latest = await rig.db.run(TelemetryQueries(rig.db).latest, vehicle_id)
    assert latest.last_heard_at > heard
    await rig.sim_state(FORD, locked=False)
    await cron.poll_now(vehicle_id)
    await rig.writer.flush()
    assert samples(rig.db, vehicle_id) == 2


@pytest.mark.asyncio
async def test_retry_after_is_honoured_and_no_sample_is_lost(rig):
    vehicle_id, _ = await rig.connect_car(TESLA)
    rig.sim.state.limiter._capacity = 1.0  # one request, then a whole-request 429
    rig.sim.state.limiter._refill = 0.01
    cron = rig.cron()
    await first_cycle(rig, cron)
    assert samples(rig.db, vehicle_id) == 1
    await rig.sim_state(TESLA, locked=False)
    status = await cron.poll_now(vehicle_id)
    assert status.state is PollState.RATE_LIMITED
    wait = status.next_poll_at.timestamp() - rig.clock()
    assert wait >= 99  # Retry-After: (1 - tokens) / 0.01 s
    rig.clock.advance(50)
    cron.wake()
    polls = cron.status().polls_total
    await rig.writer.flush()
    assert cron.status().polls_total == polls  # not due yet: nothing sent
    rig.clock.advance(60)
    cron.wake()
    await until(lambda: cron.vehicle_status(vehicle_id).state is PollState.OK, 10, "recovery")
    await rig.writer.flush()
    latest = await rig.db.run(TelemetryQueries(rig.db).latest, vehicle_id)
    assert latest.get("locked") is False and samples(rig.db, vehicle_id) == 2


@pytest.mark.asyncio
async def test_server_errors_back_off_with_jitter_then_recover(rig):
    vehicle_id, connection_id = await rig.connect_car(FORD)
    await rig.sim_faults(error_type="SERVER", error_code="INTERNAL")
    cron = rig.cron()
    await first_cycle(rig, cron)
    status = cron.vehicle_status(vehicle_id)
    assert status.state is PollState.BACKOFF and status.failures == 1
    assert 24 <= status.next_poll_at.timestamp() - rig.clock() <= 36  # 30 s ± 20 %
    assert "SERVER:INTERNAL" in connection(rig.db, connection_id).last_error
    assert samples(rig.db, vehicle_id) == 0
    second = await cron.poll_now(vehicle_id)
    assert 48 <= second.next_poll_at.timestamp() - rig.clock() <= 72 and second.failures == 2
    await rig.sim_faults()
    rig.clock.advance(80)
    cron.wake()
    await until(lambda: cron.vehicle_status(vehicle_id).state is PollState.OK, 10, "recovery")
    await rig.writer.flush()
    assert samples(rig.db, vehicle_id) == 1 and connection(rig.db, connection_id).last_error == ""


@pytest.mark.asyncio
async def test_a_timeout_is_a_transient_failure(rig):
    vehicle_id, _ = await rig.connect_car(FORD)
    await rig.sim_faults(delay_s=3.0)  # the client gives up after 2 s
    cron = rig.cron()
    await first_cycle(rig, cron)
    status = cron.vehicle_status(vehicle_id)
    assert status.state is PollState.BACKOFF and "Timeout" in status.last_error
    assert status.requests_this_month == 0  # no answer, nothing billed
    await rig.sim_faults()


@pytest.mark.asyncio
async def test_an_asleep_car_is_left_alone(rig):
    vehicle_id, _ = await rig.connect_car(BMW)
    await rig.sim_state(BMW, asleep=True)
    cron = rig.cron()
    await first_cycle(rig, cron)
    status = cron.vehicle_status(vehicle_id)
    assert status.state is PollState.ASLEEP
    assert status.next_poll_at.timestamp() - rig.clock() >= 1799.9  # 30 min (µs rounding)
    await rig.sim_state(BMW, asleep=False)
    status = await cron.poll_now(vehicle_id)  # the operator may still ask
    await rig.writer.flush()
    assert status.state is PollState.OK and samples(rig.db, vehicle_id) == 1


@pytest.mark.asyncio
async def test_an_expired_token_is_refreshed_and_polling_goes_on(rig):
    vehicle_id, _ = await rig.connect_car(TESLA)
    cron = rig.cron()
    await first_cycle(rig, cron)
    (await rig.http.post("/_sim/tokens/expire")).raise_for_status()
    await rig.sim_state(TESLA, locked=False)
    status = await cron.poll_now(vehicle_id)
    await rig.writer.flush()
    assert status.state is PollState.OK and rig.refresher.refreshes == 1
    assert samples(rig.db, vehicle_id) == 2 and not rig.refresher.expired


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.telemetry.poll", r"telemetry: connection")
async def test_a_connection_that_cannot_be_refreshed_is_marked_expired(rig):
    vehicle_id, connection_id = await rig.connect_car(TESLA)
    cron = rig.cron()
    await first_cycle(rig, cron)
    rig.sim.state.tokens._refresh.clear()  # the owner revoked access
    (await rig.http.post("/_sim/tokens/expire")).raise_for_status()
    status = await cron.poll_now(vehicle_id)
    assert status.state is PollState.EXPIRED
    assert rig.refresher.expired and rig.refresher.expired[0][0] == connection_id
    assert connection(rig.db, connection_id).status == "expired"
    polls = cron.status().polls_total
    assert (await cron.poll_now(vehicle_id)).state is PollState.EXPIRED
    assert cron.status().polls_total == polls and cron.status().vehicles_expired == 1


@pytest.mark.asyncio
async def test_partial_batch_failures_store_the_rest_and_record_the_errors(rig):
    vehicle_id, connection_id = await rig.connect_car(FORD)
    await rig.sim_faults(error_type="UPSTREAM", error_code="NO_RESPONSE", every_nth=3)
    cron = rig.cron()
    await first_cycle(rig, cron)
    await rig.sim_faults()
    status = cron.vehicle_status(vehicle_id)
    assert status.state is PollState.OK
    error = connection(rig.db, connection_id).last_error
    assert error.count("UPSTREAM:NO_RESPONSE") == 2  # items 3 and 6 of 7
    latest = await rig.db.run(TelemetryQueries(rig.db).latest, vehicle_id)
    assert latest.get("latitude") is not None and samples(rig.db, vehicle_id) == 1


@pytest.mark.asyncio
async def test_the_budget_is_counted_and_polling_slows_down_before_it_runs_out(rig):
    vehicle_id, connection_id = await rig.connect_car(FORD)
    cron = rig.cron(monthly_request_budget=40, poll_interval_s=60)
    await first_cycle(rig, cron)
    status = cron.vehicle_status(vehicle_id)
    assert status.requests_this_month == 7 and status.budget_left == 33
    # 36 usable (10 % reserve) - 7 used = 29: four more polls of 6 (no /battery on a
    # combustion car) in what is left of the month, so they are spread hours apart.
    assert status.next_poll_at.timestamp() - rig.clock() > 3600
    assert status.paths.count("/battery") == 0
    for _ in range(5):  # "Refresh now" may spend the reserve ...
        status = await cron.poll_now(vehicle_id)
    assert status.requests_this_month == 37
    refused = await cron.poll_now(vehicle_id)  # ... but 37 + 6 > 40: not even by hand
    assert refused.requests_this_month == 37 and "budget" in refused.last_error
    assert refused.state is PollState.BUDGET_PAUSED
    await rig.writer.flush()
    assert connection(rig.db, connection_id).requests_this_month == 37
    assert cron.status().requests_this_month == 37
