"""Faults as the normal weather: the real cron and token keeper behind a fault proxy.

The proxy mixes every fault kind (per-car and app-wide 429 with Retry-After, 5xx, resets,
hangs, "asleep", JSON nested half a million levels) on a seeded schedule; time is a fake
clock that jumps from one due poll to the next, so hours of simulated polling take seconds.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import pytest_asyncio
from sqlalchemy import select

from app.models.orm import SmartcarConnection, TelemetrySample
from app.services import poll_policy as policy
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.status import PollState
from tests.helpers.waiting import until
from tests.integration.services.telemetry.fault_proxy import FAULT_KINDS, seeded_schedule
from tests.integration.services.telemetry.keeper_rig import KeeperRig, fleet, keeper_rig

OWNERS, CARS_EACH = 2, 8
INTERVAL_S = 300
FAULTS_FOR_S = 3600
EXPIRE_EVERY_S = 1200
#: After the faults stop every car is read again within the longest back-off it can be in
#: (an asleep streak: 2 h), plus one interval. Retry-After (capped at 1 h), transient
#: back-off (15 min) and the app-wide pause are all shorter.
SYNC_BOUND_S = policy.ASLEEP_CAP_S + INTERVAL_S


@pytest_asyncio.fixture
async def rig(tmp_path):
    async for rig in keeper_rig(tmp_path, fleet(OWNERS, CARS_EACH)):
        yield rig


async def connect_fleet(rig: KeeperRig) -> list[str]:
    specs = fleet(OWNERS, CARS_EACH)
    for spec in specs:
        await rig.add_vehicle(spec)
    for owner in range(OWNERS):
        vins = [s.vin for s in specs if s.owner_email == f"owner{owner}@fleet.test"]
        await rig.connect_owner(f"owner{owner}@fleet.test", vins)
    for spec in specs:
        await rig.sim_state(spec.vin, activity="driving")  # every read differs from the last
    return [s.vin for s in specs]


def idle(rig: KeeperRig, cron: TelemetryCron) -> bool:
    status = cron.status()
    due = status.next_run_at
    return (
        status.in_flight == 0
        and status.queued == 0
        and (due is None or due.timestamp() > rig.clock())
    )


async def step(rig: KeeperRig, cron: TelemetryCron, limit: float) -> None:
    """Let every due poll finish, then jump the clock to the next due one (or ``limit``)."""
    await until(lambda: idle(rig, cron), 30, "the cron to go idle")
    due = cron.status().next_run_at
    target = due.timestamp() if due is not None else limit
    # A millisecond past: status times are rounded to microseconds, the cron's are not.
    rig.clock.now = max(rig.clock(), min(target, limit)) + 0.001
    cron.wake()


def stored(rig: KeeperRig) -> dict[int, list[TelemetrySample]]:
    with rig.db.session() as session:
        rows = session.scalars(select(TelemetrySample).order_by(TelemetrySample.id)).all()
    out: dict[int, list[TelemetrySample]] = defaultdict(list)
    for row in rows:
        out[row.vehicle_id].append(row)
    return out


def connections(rig: KeeperRig) -> list[SmartcarConnection]:
    with rig.db.session() as session:
        return list(session.scalars(select(SmartcarConnection)).all())


@pytest.mark.asyncio
async def test_a_new_connection_is_read_at_once_not_one_interval_after_connect(rig):
    [spec] = fleet(1, 1)
    await rig.add_vehicle(spec)
    cron = rig.cron(poll_interval_s=INTERVAL_S)
    await until(lambda: cron.status().running, 5, "the cron")
    await rig.connect_owner(spec.owner_email, [spec.vin])
    vehicle_id = rig.vehicle_ids[spec.vin]
    # The clock does not move: only "read right after Connect" can produce this sample.
    await until(
        lambda: (
            (cron.vehicle_status(vehicle_id) or None) is not None
            and cron.vehicle_status(vehicle_id).last_success_at is not None
        ),
        10,
        "the first read after Connect",
    )
    await rig.writer.flush()
    assert len(stored(rig)[vehicle_id]) == 1
    assert cron.vehicle_status(vehicle_id).state is PollState.OK


@pytest.mark.asyncio
async def test_a_connection_made_before_the_cron_started_is_read_at_once(rig):
    """As on a shared database, where another console ran Connect and the collector's cron
    only finds the row on its next reload."""
    [spec] = fleet(1, 1)
    await rig.add_vehicle(spec)
    await rig.connect_owner(spec.owner_email, [spec.vin])
    cron = rig.cron(poll_interval_s=INTERVAL_S)
    vehicle_id = rig.vehicle_ids[spec.vin]
    await until(  # next_poll_at is None while the poll is still running, read or not
        lambda: (
            (status := cron.vehicle_status(vehicle_id)) is not None
            and status.last_success_at is not None
            and status.next_poll_at is not None
        ),
        10,
        "the first read",
    )
    polled = cron.vehicle_status(vehicle_id)
    assert polled.next_poll_at.timestamp() == pytest.approx(rig.clock() + INTERVAL_S, abs=1)


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.integrations.smartcar.rate_gate",
    r"Smartcar app\-wide rate limit: every request paused for",
)
@pytest.mark.expect_log("app.services.telemetry.poll", r"telemetry: token for vehicle")
async def test_every_fault_kind_loses_nothing_and_every_car_syncs_within_the_bound(rig):
    vins = await connect_fleet(rig)
    start = rig.clock()
    faulty = True
    rig.proxy.decide = seeded_schedule(seed=1913, rate=0.3, enabled=lambda: faulty)
    cron = rig.cron(poll_interval_s=INTERVAL_S, max_concurrent_requests=4)
    await until(lambda: cron.status().vehicles_active == len(vins), 10, "every connection")

    for expiry in range(EXPIRE_EVERY_S, FAULTS_FOR_S + 1, EXPIRE_EVERY_S):
        while rig.clock() < start + expiry:
            await step(rig, cron, start + expiry)
        # Access tokens die early: every car's next poll gets a 401 and the token keeper
        # refreshes (each grant's pair rotates once), through the same foul weather.
        (await rig.sim_http.post("/_sim/tokens/expire")).raise_for_status()
    faulty = False
    stopped = rig.clock()
    await until(lambda: idle(rig, cron), 30, "the cron to go idle")

    def synced_since_stop(vehicle_id: int) -> bool:
        status = cron.vehicle_status(vehicle_id)
        return status.last_success_at is not None and status.last_success_at.timestamp() > stopped

    ids = [rig.vehicle_ids[v] for v in vins]
    while not all(synced_since_stop(i) for i in ids) and rig.clock() <= stopped + SYNC_BOUND_S:
        await step(rig, cron, stopped + SYNC_BOUND_S + 1)
    await until(lambda: idle(rig, cron), 30, "the cron to go idle")
    await rig.writer.flush()

    # The schedule really was foul weather: every kind happened, app-wide limit included.
    kinds = {kind for _, _, kind in rig.proxy.faults}
    assert kinds == set(FAULT_KINDS), kinds
    assert rig.proxy.app_windows
    token_faults = [f for _, vehicle, f in rig.proxy.faults if vehicle is None]
    assert token_faults and rig.proxy.forwarded_kinds["token"] >= 3 * OWNERS
    # Every car was read again within the stated bound after the faults stopped.
    late = [v for v in vins if not synced_since_stop(rig.vehicle_ids[v])]
    assert not late, f"not synced within {SYNC_BOUND_S} s after the faults stopped: {late}"
    # Limits held: nothing for a car inside its Retry-After, and inside an app-wide window
    # at most the polls already in flight when it was announced.
    assert rig.proxy.car_window_hits == 0
    assert max(rig.proxy.app_window_hits) < 4, rig.proxy.app_window_hits
    # What the simulator served is what was stored: no loss, no duplicates, no wrong values.
    samples = stored(rig)
    by_smartcar_id = {c.smartcar_vehicle_id: c.vehicle_id for c in connections(rig)}
    for smartcar_id, vehicle_id in by_smartcar_id.items():
        served = [s.values for s in rig.proxy.served[smartcar_id]]
        served_km = [v["/odometer"]["distance"] for v in served if "/odometer" in v]
        served_at = [(v["/location"]["latitude"], v["/location"]["longitude"]) for v in served]
        kept = samples[vehicle_id]
        assert [s.odometer_km for s in kept if s.odometer_km is not None] == served_km
        assert [(s.latitude, s.longitude) for s in kept if s.latitude is not None] == served_at
        assert len(set(served_km)) == len(served_km)  # each read differed: none stored twice
    # Health came back with the data: no connection is left in Error or with an error shown.
    for row in connections(rig):
        assert (row.status, row.last_error) == ("active", ""), (row.id, row.status_reason)


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.integrations.smartcar.rate_gate",
    r"Smartcar app\-wide rate limit: every request paused for",
)
async def test_an_app_wide_rate_limit_pauses_every_request_until_retry_after(rig):
    specs = fleet(1, 3)
    for spec in specs:
        await rig.add_vehicle(spec)
    first: list[str] = []

    def decide(kind: str, vehicle: str | None, n: int) -> str | None:
        if kind == "batch" and not first:
            first.append(vehicle or "")
            return "app_429"
        return None

    rig.proxy.decide = decide
    rig.proxy.retry_after_s = lambda _kind, _rng: 300
    cron = rig.cron(max_concurrent_requests=1)  # one at a time: nothing else in flight
    await until(lambda: cron.status().running, 5, "the cron")
    await rig.connect_owner(specs[0].owner_email, [s.vin for s in specs])
    ids = [rig.vehicle_ids[s.vin] for s in specs]

    def polled(i: int) -> bool:
        status = cron.vehicle_status(i)
        return status is not None and status.last_poll_at is not None

    await until(lambda: polled(ids[0]) and idle(rig, cron), 10, "the first reads")
    limited_at = rig.clock()
    assert cron.status().paused_until.timestamp() == pytest.approx(limited_at + 300, abs=1)
    forwarded = rig.proxy.forwarded
    # "Refresh now" of another car inside the window: answered here, nothing sent.
    other = next(i for i in ids if cron.vehicle_status(i).last_success_at is None)
    status = await cron.poll_now(other)
    assert status.state is PollState.RATE_LIMITED and "paused" in status.last_error
    rig.clock.advance(200)
    cron.wake()
    await until(lambda: idle(rig, cron), 10, "idle")
    assert rig.proxy.forwarded == forwarded and rig.proxy.app_window_hits == [0]
    rig.clock.now = limited_at + 301
    cron.wake()
    await until(
        lambda: all(cron.vehicle_status(i).last_success_at is not None for i in ids),
        10,
        "every car read after the window",
    )
    assert rig.proxy.app_window_hits == [0]


@pytest.mark.asyncio
async def test_deeply_nested_json_is_a_recorded_poll_error_not_a_crash(rig):
    [spec] = fleet(1, 1)
    await rig.add_vehicle(spec)
    rig.proxy.decide = lambda kind, _vehicle, _n: "deep_json" if kind == "batch" else None
    cron = rig.cron()
    await until(lambda: cron.status().running, 5, "the cron")
    await rig.connect_owner(spec.owner_email, [spec.vin])
    vehicle_id = rig.vehicle_ids[spec.vin]

    def polled() -> bool:
        status = cron.vehicle_status(vehicle_id)
        return status is not None and status.last_poll_at is not None

    await until(lambda: polled() and idle(rig, cron), 10, "a poll")
    status = cron.vehicle_status(vehicle_id)
    assert status.state is PollState.BACKOFF and "nested deeper" in status.last_error
    assert 24 <= status.next_poll_at.timestamp() - rig.clock() <= 36  # retried, not parked
    await rig.writer.flush()
    [row] = connections(rig)
    assert "nested deeper" in row.last_error and row.last_error_at is not None
    for _ in range(2):  # three in a row: the connection shows it
        await cron.poll_now(vehicle_id)
    [row] = connections(rig)
    assert row.status == "error" and "nested deeper" in row.status_reason
