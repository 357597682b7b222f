"""WebhookIngest under a burst: the routes read once (never cached across a change), the
event-id lookups one query at a time, one event delivered twice at once stored once.

Real parts on a migrated SQLite file (the ingest, the telemetry writer, the connection
repository); only ``live_v3`` and ``seen`` are wrapped, to count and to hold them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from app.integrations.smartcar.webhook_receiver import Ack
from app.integrations.smartcar.webhooks import VehicleStateEvent, decode, parse_event
from app.models.connections import ConnectionRecord, ConnectionRepository
from app.models.database import Database, sqlite_url
from app.models.orm import TelemetrySample, WebhookEvent
from app.services.telemetry.writer import TelemetryWriter
from app.services.webhooks import ingest as ingest_module
from app.services.webhooks.ingest import WebhookIngest
from tests.helpers.v3_cars import add_v3_cars

CARS = 4


class CountingRepository(ConnectionRepository):
    """``live_v3`` counted; with ``hold`` cleared, each read waits for it on the db thread."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads = 0
        self.entered = threading.Event()
        self.hold = threading.Event()
        self.hold.set()

    def live_v3(self) -> list[ConnectionRecord]:
        self.reads += 1
        self.entered.set()
        assert self.hold.wait(10)
        return super().live_v3()


@dataclass
class Rig:
    db: Database
    repo: CountingRepository
    ingest: WebhookIngest


@pytest_asyncio.fixture
async def rig(tmp_path: Any) -> AsyncIterator[Rig]:
    db = Database(sqlite_url(tmp_path / "console.db"))
    db.migrate()
    add_v3_cars(db, CARS)
    writer = TelemetryWriter(db)
    repo = CountingRepository(db)
    ingest = WebhookIngest(db, repo, writer, changed=lambda vehicle_id: None)
    task = asyncio.ensure_future(writer.run())
    try:
        yield Rig(db, repo, ingest)
    finally:
        repo.hold.set()
        await writer.flush()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        db.close()


def event(n: int, delivery: str = "") -> VehicleStateEvent:
    body = {
        "eventId": f"ev-{n}",
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": "user-1"},
            "vehicle": {"id": f"veh-{n % CARS}"},
            "signals": [
                {
                    "code": "odometer-traveleddistance",
                    "body": {"value": 1000 + n, "unit": "km"},
                    "status": {"value": "SUCCESS"},
                }
            ],
        },
        "meta": {"deliveryId": delivery or f"d-{n}", "deliveredAt": time.time() * 1000},
    }
    parsed = parse_event(decode(json.dumps(body).encode()))
    assert isinstance(parsed, VehicleStateEvent)
    return parsed


def stored_events(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(WebhookEvent)).scalar())


@pytest.mark.asyncio
async def test_a_burst_on_a_cold_table_reads_the_routes_once(rig: Rig) -> None:
    acks = await asyncio.gather(*(rig.ingest(event(n)) for n in range(64)))
    assert {(a.status, a.outcome) for a in acks} == {(200, "stored")}
    assert rig.repo.reads == 1
    assert stored_events(rig.db) == 64


@pytest.mark.asyncio
async def test_a_change_during_the_read_is_not_hidden_by_it(rig: Rig) -> None:
    rig.repo.hold.clear()
    early = asyncio.ensure_future(rig.ingest(event(0)))
    assert await asyncio.to_thread(rig.repo.entered.wait, 10)
    rig.ingest.connections_changed()  # e.g. a car connected while the routes were read
    late = asyncio.ensure_future(rig.ingest(event(1)))
    await asyncio.sleep(0.05)
    rig.repo.hold.set()
    assert [(a.status, a.outcome) for a in await asyncio.gather(early, late)] == [
        (200, "stored"),
        (200, "stored"),
    ]
    assert rig.repo.reads == 2  # the late delivery did not take the read begun before
    await rig.ingest(event(2))
    assert rig.repo.reads == 2  # the read begun after the change is the one cached


@pytest.mark.asyncio
async def test_lookups_that_arrive_while_one_runs_share_the_next_query(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries: list[list[str]] = []
    entered, hold = threading.Event(), threading.Event()

    def seen(database: Database, event_ids: list[str]) -> set[str]:
        queries.append(sorted(event_ids))
        entered.set()
        assert hold.wait(10)
        return set()

    monkeypatch.setattr(ingest_module, "seen", seen)
    first = asyncio.ensure_future(rig.ingest(event(0)))
    assert await asyncio.to_thread(entered.wait, 10)
    later = []
    for n in range(1, 11):  # one per loop turn, as a steady load brings them
        later.append(asyncio.ensure_future(rig.ingest(event(n))))
        await asyncio.sleep(0)
    hold.set()
    acks = await asyncio.gather(first, *later)
    assert {(a.status, a.outcome) for a in acks} == {(200, "stored")}
    assert queries == [["ev-0"], sorted(f"ev-{n}" for n in range(1, 11))]


def samples(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(TelemetrySample)).scalar())


@pytest.mark.asyncio
async def test_the_same_event_twice_at_once_is_stored_once(rig: Rig) -> None:
    first, again = await asyncio.gather(rig.ingest(event(7)), rig.ingest(event(7, "d-retry")))
    assert [(first.status, first.outcome), (again.status, again.outcome)] == [
        (200, "stored"),
        (200, "duplicate"),
    ]
    assert stored_events(rig.db) == 1 and samples(rig.db) == 1


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.webhooks.ingest", match="not stored")
async def test_the_twin_of_a_delivery_whose_store_failed_is_not_acknowledged(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(items: Any) -> None:
        await asyncio.sleep(0.01)
        raise OSError("disk full")

    monkeypatch.setattr(rig.ingest._writer, "store", refuse)
    outcomes = await asyncio.gather(
        rig.ingest(event(7)), rig.ingest(event(7, "d-retry")), return_exceptions=True
    )
    assert isinstance(outcomes[0], OSError)  # the receiver answers it 503
    assert outcomes[1] == Ack(503, "store failed")
