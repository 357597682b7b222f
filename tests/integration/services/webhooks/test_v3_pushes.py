"""Demo mode's Smartcar V3 path end to end, on real parts: the simulator on a localhost
socket, Connect walked over HTTP, the console's webhook receiver, the telemetry writer and
SQLite. A connected car's data arrives by webhook without a single poll."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import keyring.backends.fail
import pytest
import pytest_asyncio

from app.config import DemoSettings, Settings, SmartcarSettings
from app.integrations.smartcar.webhooks import sign
from app.paths import resolve_paths
from app.services.connections.backends import Backends, start_backends
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.telemetry.cron import FIRST_DELIVERY_GRACE_S
from app.services.telemetry.runtime import build_cron
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import AppContext
from tests.integration.integrations.smartcar.conftest import FakeClock
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.unit.services.connections.conftest import free_port


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """Wait for a condition (no fixed sleeps): polls ``check`` between loop turns."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.02)
    return result


@dataclass
class Rig:
    context: AppContext
    backends: Backends
    service: ConnectionService

    async def connect(self, index: int = 0) -> Any:
        cars = [r for r in self.context.vehicles.repository.list_rows() if r.kind == "car"]
        row = cars[index]
        url = self.service.begin(row.id, row.vin)
        redirect = await asyncio.to_thread(walk_connect, url, email="owner@x.test")
        auth = await self.service.complete(redirect)
        plan = await self.service.plan(auth)
        assert plan.match is not None
        return await self.service.link(auth, plan.match)

    async def latest(self, vehicle_id: int) -> Any:
        return await self.context.telemetry.latest(vehicle_id)

    @property
    def sim(self) -> Any:
        assert self.backends.simulator is not None
        return self.backends.simulator


@pytest_asyncio.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    settings = Settings(
        demo=DemoSettings(cars=3, micromobility=0),
        smartcar=SmartcarSettings(redirect_uri=f"http://127.0.0.1:{free_port()}/sc/callback"),
    )
    backends = await start_backends(settings, demo=True, offline=False)
    context = open_context(settings, resolve_paths(tmp_path / "data").ensure(), backends=backends)
    assert backends.simulator is not None and context.webhooks is not None
    backends.simulator.state.config.webhook_interval_s = 0  # rounds only when the test ticks
    service = ConnectionService(
        context.database,
        context.vehicles,
        TokenCipher(context.paths.data_dir, keyring.backends.fail.Keyring()),
        backends,
        connect_mode="simulated",
        demo=True,
    )
    service.changes.subscribe(context.webhooks.ingest.connections_changed)
    writer = context.telemetry_writer
    assert writer is not None
    tasks = [
        asyncio.ensure_future(writer.run()),
        asyncio.ensure_future(context.webhooks.run()),
    ]
    await until(lambda: _ready(backends), "webhook registered")
    try:
        yield Rig(context, backends, service)
    finally:
        await writer.flush()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await backends.aclose()
        context.close()


async def _ready(backends: Backends) -> bool:
    return backends.webhook_id is not None


@pytest.mark.asyncio
async def test_a_connected_car_shows_its_data_by_webhook_and_keeps_updating(rig: Rig) -> None:
    record = await rig.connect(0)
    assert record.v3 and record.smartcar_user_id and not record.access_expires_at
    assert record.webhook_state == "subscribed"

    # FIRST_DELIVERY: every signal, stored without any poll (no cron runs in this rig)
    state = await until(lambda: rig.latest(record.vehicle_id), "first delivery")
    assert state.get("latitude") is not None and state.get("odometer_km") is not None
    stored = await rig.service.connection_for(record.vehicle_id)
    assert stored is not None and stored.last_delivery_at is not None
    assert stored.requests_this_month == 0  # nothing was polled

    # the car drives off: the next round pushes its new position
    vin = record.vin
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{rig.sim.base_url}/_sim/vehicles/{vin}/state", json={"activity": "driving"}
        )
    first_lat = state.get("latitude")

    async def moved() -> Any:  # driving at 36 km/h, it passes the 5 m trigger within a second
        await rig.sim.webhooks.tick()
        latest = await rig.latest(record.vehicle_id)
        return latest is not None and latest.get("latitude") != first_lat

    await until(moved, "second delivery")


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.webhooks.ingest", match="replayed")
async def test_duplicates_are_stored_once_and_replays_refused(rig: Rig) -> None:
    record = await rig.connect(0)
    await until(lambda: rig.latest(record.vehicle_id), "first delivery")
    receiver = rig.context.webhooks.receiver if rig.context.webhooks else None
    assert receiver is not None and receiver.url and rig.backends.management_token
    before = await rig.context.database.run(_sample_count, rig.context.database)
    payload = {
        "eventId": "ev-dup",
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": {"id": record.smartcar_user_id},
            "vehicle": {"id": record.smartcar_vehicle_id},
            "signals": [
                {
                    "code": "location-preciselocation",
                    "body": {"latitude": 1.5, "longitude": 2.5},
                    "status": {"value": "SUCCESS"},
                },
            ],
        },
        "meta": {"deliveryId": "d-1"},
    }
    async with httpx.AsyncClient() as http:
        answers = []
        for delivery in ("d-1", "d-2", "d-1"):  # a Smartcar retry, then a replayed request
            payload["meta"] = {"deliveryId": delivery}
            body = json.dumps(payload, separators=(",", ":")).encode()
            answer = await http.post(
                receiver.url,
                content=body,
                headers={
                    "content-type": "application/json",
                    "SC-Signature": sign(rig.backends.management_token, body),
                },
            )
            answers.append((answer.status_code, answer.json()["status"]))
    assert answers == [(200, "stored"), (200, "duplicate"), (409, "replayed")]
    after = await rig.context.database.run(_sample_count, rig.context.database)
    assert after == before + 1


def _sample_count(database: Any) -> int:
    from sqlalchemy import text

    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM telemetry_sample")).scalar_one())


@pytest.mark.asyncio
async def test_vehicle_error_sets_the_health_and_resolved_clears_it(rig: Rig) -> None:
    record = await rig.connect(0)
    await until(lambda: rig.latest(record.vehicle_id), "first delivery")
    base = f"{rig.sim.base_url}/_sim/vehicles/{record.vin}/error"
    async with httpx.AsyncClient() as http:
        await http.post(base, json={"type": "VEHICLE_STATE", "code": "UNREACHABLE"})

    async def status(expected: str) -> Any:
        current = await rig.service.connection_for(record.vehicle_id)
        return current if current is not None and current.status == expected else None

    errored = await until(lambda: status("error"), "VEHICLE_ERROR")
    assert "UNREACHABLE" in errored.status_reason
    async with httpx.AsyncClient() as http:
        await http.post(base, json={"clear": True})
    await until(lambda: status("active"), "RESOLVED")


@pytest.mark.asyncio
async def test_disconnect_unsubscribes_and_later_pushes_are_ignored(rig: Rig) -> None:
    record = await rig.connect(0)
    await until(lambda: rig.latest(record.vehicle_id), "first delivery")
    await rig.service.disconnect(record.id)
    after = await rig.service.connection_for(record.vehicle_id)
    assert after is not None and after.status == "disconnected" and after.webhook_state == ""
    async with httpx.AsyncClient() as http:
        subs = await http.get(f"{rig.sim.base_url}/_sim/webhooks/stats")
    assert subs.status_code == 200
    assert rig.sim.state.v3.subscriptions == {}


@pytest.mark.asyncio
async def test_a_subscribed_car_is_polled_only_to_fill_a_gap(rig: Rig) -> None:
    """Polling is the fallback: no read at the link (FIRST_DELIVERY brings everything),
    none while deliveries come, one billed poll after a silence longer than the gap."""
    clock, gap = FakeClock(), 3600.0
    context = rig.context
    assert context.telemetry_writer is not None and context.webhooks is not None
    assert rig.backends.smartcar is not None
    cron = build_cron(
        context.database,
        context.settings.telemetry,
        rig.backends.smartcar,
        context.telemetry_writer,
        rig.service,
        gap_fill_s=gap,
        clock=clock,
    )
    context.webhooks.ingest.deliveries.subscribe(cron.delivered)
    [car, *_] = [r for r in context.vehicles.repository.list_rows() if r.kind == "car"]
    async with httpx.AsyncClient() as http:  # parked, not charging: it will stay silent
        answer = await http.post(
            f"{rig.sim.base_url}/_sim/vehicles/{car.vin}/state",
            json={"activity": "parked", "plugged_in": False},
        )
        answer.raise_for_status()
    task = asyncio.ensure_future(cron.run())
    try:
        record = await rig.connect(0)
        await until(lambda: rig.latest(record.vehicle_id), "first delivery")

        async def planned_after(moment: float) -> bool:
            status = cron.vehicle_status(record.vehicle_id)
            return bool(status and status.next_poll_at and status.next_poll_at.timestamp() > moment)

        await until(lambda: planned_after(clock.now + FIRST_DELIVERY_GRACE_S), "the gap fill plan")
        clock.advance(gap - 60)  # past the first-delivery grace, inside the gap
        cron.wake()
        await until(lambda: planned_after(clock.now), "the plan after a wake")
        assert cron.status().polls_total == 0

        sent = rig.sim.webhooks.stats.sent
        await rig.sim.webhooks.tick()
        assert rig.sim.webhooks.stats.sent == sent  # parked: nothing changes, nothing pushed
        clock.advance(120)  # silent for longer than the gap: one poll fills it
        cron.wake()

        async def polled() -> bool:
            return cron.status().polls_total == 1

        await until(polled, "the gap-fill poll")
        await context.telemetry_writer.flush()
        stored = await rig.service.connection_for(record.vehicle_id)
        assert stored is not None and stored.requests_this_month > 0
        assert await planned_after(clock.now + gap - 1)  # next one a whole gap later
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.connections.subscriptions", match="subscription failed")
async def test_a_failing_management_api_is_shown_and_retried(rig: Rig) -> None:
    """A subscription the Management API refuses (a wrong webhook id in the settings) keeps
    the car connected and polled, stores the reason for the Connections window, and the
    next reconcile subscribes it once the id is right."""
    right = rig.backends.webhook_id
    rig.backends.webhook_id = "no-such-webhook"
    record = await rig.connect(0)
    assert record.status == "active" and record.webhook_state == "failed"
    assert "404" in record.webhook_error or "NOT_FOUND" in record.webhook_error.upper()
    assert rig.sim.state.v3.subscriptions == {}

    rig.backends.webhook_id = right
    assert await rig.service.subscriptions.reconcile() == 1
    again = await rig.service.connection_for(record.vehicle_id)
    assert again is not None and again.webhook_state == "subscribed" and not again.webhook_error
    await until(lambda: rig.latest(record.vehicle_id), "the first delivery after the retry")
