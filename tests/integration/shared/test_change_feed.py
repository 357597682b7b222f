"""NOTIFY/LISTEN change feed: delivery, bad payloads, and resync after a lost connection."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from app.services.change_feed import (
    CHANNEL,
    Change,
    ChangeListener,
    ChangePublisher,
    libpq_dsn,
)
from app.services.tasks import TaskOwner
from tests.helpers.waiting import until


@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(Expecting property"
)
@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(Expecting value: li"
)
@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(id\)"
)
@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(list indices must b"
)
@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(table\)"
)
def test_change_payloads_round_trip_and_bad_ones_are_ignored():
    change = Change("command", 7, command_id=3, state="confirmed")
    assert Change.parse(change.to_json()) == change
    for bad in ("", "{", "[]", '{"table": 5}', '{"table": "x", "vehicle_id": "7"}'):
        assert Change.parse(bad) is None


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.change_feed", r"change feed: listener lost the")
@pytest.mark.expect_log(
    "app.services.change_feed", r"ignored a malformed change notification \(Expecting value: li"
)
async def test_published_changes_reach_a_listener_and_it_resyncs_after_reconnecting(pg_url):
    received: list[Change] = []
    resyncs: list[bool] = []
    states: list[bool] = []
    listener = ChangeListener(
        pg_url,
        received.append,
        on_resync=lambda: resyncs.append(True),
        on_state=states.append,
        retry_s=0.05,
    )
    publisher = ChangePublisher(pg_url)
    tasks = TaskOwner()
    try:
        tasks.spawn(listener.run(), "listener")
        tasks.spawn(publisher.run(), "publisher")
        await asyncio.wait_for(listener.listening.wait(), 10)
        publisher.publish_vehicles("telemetry", {3, 1})
        publisher.publish(Change("telemetry", 1))  # coalesced with the queued one or sent again
        await until(lambda: {c.vehicle_id for c in received} == {1, 3}, 5, "both changes")
        async with await psycopg.AsyncConnection.connect(libpq_dsn(pg_url), autocommit=True) as c:
            await c.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "not json"))
            await c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            )
        await until(lambda: resyncs == [True], 10, "the listener to reconnect and resync")
        assert states[:3] == [True, False, True]
        publisher.publish(Change("rental", 9))
        await until(lambda: any(c.table == "rental" for c in received), 5, "a change after")
        assert all(isinstance(c, Change) for c in received)
    finally:
        await tasks.shutdown()
