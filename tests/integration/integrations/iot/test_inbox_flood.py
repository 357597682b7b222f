"""Made-up device ids flooding the gateway: the unknown-devices inbox stays bounded.

Real GT06 login frames over real TCP to the real gateway, ingest and SQLite inbox. The
attack from issue #14: one connection sending login after login with random valid IMEIs,
and many connections from a few addresses each naming a new one. A registered device
keeps reporting throughout.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from app.integrations.iot.codecs.gt06_build import build_location, build_login
from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.models.database import Database, sqlite_url
from app.services.iot import ingest as iot_ingest
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.validation import luhn_complete
from tests.helpers.iot_fleet import register_gt06
from tests.helpers.waiting import until

GOOD_IMEI = luhn_complete("35800000000001")


@dataclass
class Rig:
    db: Database
    gateway: IotGateway
    ingest: IotIngest

    @property
    def port(self) -> int:
        return self.gateway.ports["gt06"]


@pytest_asyncio.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    register_gt06(db, [GOOD_IMEI], kind="scooter")
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    ingest = IotIngest(db, writer, flush_interval_s=0.05)
    await ingest.refresh()
    gateway = IotGateway(GatewayConfig(ports={"gt06": 0}, host="127.0.0.1"), ingest)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]
    await gateway.start()
    try:
        yield Rig(db, gateway, ingest)
    finally:
        await gateway.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        db.close()


def random_imeis(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [luhn_complete(f"86{rng.randrange(10**12):012d}") for _ in range(count)]


async def inbox(rig: Rig) -> list[str]:
    return [u.device_id for u in await rig.ingest.unknown_devices()]


async def good_device_reports(rig: Rig, serial: int) -> None:
    """The registered device logs in and reports a fix; both answered after storing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
    try:
        writer.write(build_login(GOOD_IMEI, serial))
        await asyncio.wait_for(reader.read(64), 5)  # the login ACK
        writer.write(build_location(datetime.now(UTC), 52.52, 13.40, 0.0, 0.0, serial=serial + 1))
        assert await asyncio.wait_for(reader.read(64), 5), "the fix was not acknowledged"
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        while await asyncio.wait_for(reader.read(4096), 5):
            pass
    except ConnectionResetError:
        pass
    return True


@pytest.mark.asyncio
async def test_one_connection_naming_ever_new_ids_is_cut(rig, caplog) -> None:
    caplog.set_level(logging.INFO)
    logins = b"".join(build_login(imei, n) for n, imei in enumerate(random_imeis(2000, 1)))
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
    writer.write(logins)
    assert await closed_by_server(reader)
    writer.close()
    limit = rig.gateway.config.max_ids_per_connection
    assert rig.gateway.stats.identity_cuts == 1
    assert "changes identity repeatedly" in caplog.text
    assert len(await inbox(rig)) <= limit  # the read that crossed the limit is dropped
    assert rig.ingest.frames.device_count <= limit
    await good_device_reports(rig, 10)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.iot.ingest", r"unknown devices inbox full")
async def test_inbox_is_bounded_per_address_and_in_all(rig, monkeypatch, caplog) -> None:
    monkeypatch.setattr(iot_ingest, "INBOX_PER_ADDRESS", 6)
    monkeypatch.setattr(iot_ingest, "INBOX_MAX", 15)
    caplog.set_level(logging.WARNING)
    imeis = iter(random_imeis(40, 2))
    connections = []
    for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        for _ in range(10):  # ten new devices from each address
            _reader, writer = await asyncio.open_connection(
                "127.0.0.1", rig.port, local_addr=(host, 0)
            )
            writer.write(build_login(next(imeis), 1))
            connections.append(writer)
    await until(lambda: rig.ingest.inbox_refused >= 30 - 15, what="sightings refused")
    listed = await rig.ingest.unknown_devices()
    per_host: dict[str, int] = {}
    for entry in listed:
        host = entry.address.rpartition(":")[0]
        per_host[host] = per_host.get(host, 0) + 1
    assert len(listed) == 15
    assert per_host == {"127.0.0.2": 6, "127.0.0.3": 6, "127.0.0.4": 3}
    assert rig.ingest.inbox_refused == 15
    await until(lambda: "inbox full" in caplog.text, what="the refusals logged")
    assert rig.ingest.frames.device_count == 15  # no frame log for a refused id
    await good_device_reports(rig, 20)
    for writer in connections:
        writer.close()


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.iot.ingest", r"unknown devices inbox full")
async def test_a_listed_device_keeps_being_counted_when_the_inbox_is_full(rig, monkeypatch):
    monkeypatch.setattr(iot_ingest, "INBOX_MAX", 1)
    first, second = random_imeis(2, 3)
    for n, imei in enumerate((first, second, first), start=1):
        _reader, writer = await asyncio.open_connection("127.0.0.1", rig.port)
        writer.write(build_login(imei, 1))
        await until(lambda n=n: rig.gateway.stats.unknown_frames == n, what=f"sighting {n}")
        await until(lambda: rig.gateway.batcher.task is None, what="the sighting reported")
        writer.close()
    listed = await rig.ingest.unknown_devices()
    assert [(u.device_id, u.count) for u in listed] == [(first, 2)]
    assert rig.ingest.inbox_refused == 1
