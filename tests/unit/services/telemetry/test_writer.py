"""The writer task: batching, durability waits, observers, and a database that fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import event, func, select, text

from app.models.orm import TelemetrySample
from app.services.telemetry.writer import TelemetryBacklogError, TelemetryWriter
from tests.helpers.waiting import until
from tests.unit.services.telemetry.conftest import reading


def count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(TelemetrySample.id))) or 0


@pytest_asyncio.fixture
async def running(db) -> AsyncIterator[tuple[TelemetryWriter, asyncio.Task]]:
    writer = TelemetryWriter(db, max_batch=100, retry_initial_s=0.01, retry_max_s=0.05)
    task = asyncio.get_running_loop().create_task(writer.run())
    yield writer, task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.listeners", r"a listener of telemetry commits failed", level="ERROR")
async def test_submitted_readings_are_written_in_batches_and_observed(db, vehicle_ids, running):
    writer, _ = running
    seen: list[frozenset[int]] = []
    writer.commits.subscribe(seen.append)
    writer.commits.subscribe(lambda ids: 1 / 0)  # a broken observer must not stop the others
    writer.submit_many(reading(vehicle_ids[i % 3], i, odometer=float(i)) for i in range(250))
    await writer.flush()
    status = writer.status()
    assert count(db) == 250 and status.samples_written == 250
    assert status.batches == 3 and status.pending == 0 and status.error is None
    assert frozenset().union(*seen) == frozenset(vehicle_ids)


@pytest.mark.asyncio
async def test_store_returns_once_durable(db, vehicle_ids, running):
    writer, _ = running
    await writer.store([reading(vehicle_ids[0], fuel=12.0)])
    assert count(db) == 1


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.telemetry.writer",
    r"storing telemetry failed, will retry: \(sqlite",
    level="ERROR",
)
async def test_a_full_disk_keeps_the_batch_and_retries_until_it_fits(db, vehicle_ids, running):
    writer, _ = running
    await writer.store([reading(vehicle_ids[0], 0, odometer=0.0)])
    capped = {}

    def cap(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")
        capped["yes"] = True

    event.listen(db.engine, "connect", cap)
    await db.run(db.engine.dispose)
    big = "x" * 5000  # a few rows must need new pages
    writer.submit_many(reading(vehicle_ids[1], i, odometer=float(i), raw=big) for i in range(1, 41))
    await until(lambda: writer.status().error is not None, 10, "the write error")
    status = writer.status()
    assert "full" in status.error and status.failing_since is not None and status.pending == 40
    assert capped and count(db) == 1
    event.remove(db.engine, "connect", cap)
    await db.run(db.engine.dispose)
    await asyncio.wait_for(writer.flush(), 10)
    assert count(db) == 41 and writer.status().error is None


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.telemetry.writer",
    r"keeping the telemetry backlog failed, will retry: backlog fu",
    level="ERROR",
)
async def test_a_backlog_beyond_the_bound_drops_the_oldest_and_fails_waiters(db, vehicle_ids):
    writer = TelemetryWriter(db, max_pending=5)  # not running: nothing drains
    waiter = asyncio.ensure_future(writer.store([reading(vehicle_ids[0], 0, fuel=1.0)]))
    await asyncio.sleep(0)
    writer.submit_many(reading(vehicle_ids[0], i, fuel=float(i)) for i in range(1, 8))
    with pytest.raises(TelemetryBacklogError):
        await waiter
    status = writer.status()
    assert status.pending == 5 and status.overflow_dropped == 3


@pytest.mark.asyncio
@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
@pytest.mark.expect_log(
    "app.models.telemetry_store", r"telemetry: dropped a reading: not a TelemetryReading: object"
)
async def test_garbage_in_a_batch_never_stops_the_writer(db, vehicle_ids, running):
    writer, task = running
    writer.submit_many([object(), reading(vehicle_ids[0], fuel=float("nan"), odometer=3.0)])
    await writer.flush()
    assert count(db) == 1 and not task.done()
    assert writer.status().readings_dropped == 1 and writer.status().fields_dropped == 1
    with db.session() as session:
        assert session.execute(text("SELECT fuel_pct FROM telemetry_sample")).scalar() is None
