"""A full disk under a reporting device: nothing acknowledged is lost, the operator is told.

The disk is made full for real: SQLite's ``max_page_count`` caps the database at the
pages it has, so every write fails with SQLITE_FULL ("database or disk is full"), the
same error a full file system gives. Real gateway, ingest, writer and GT06 frames over TCP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.models.database import Database, sqlite_url
from app.models.orm import TelemetrySample
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from app.views.storage_status import describe
from tests.helpers.gt06_device import Gt06Device, fix_time
from tests.helpers.iot_fleet import register_gt06
from tests.helpers.waiting import until

IMEI = "358000000000016"


@dataclass
class Rig:
    db: Database
    writer: TelemetryWriter
    gateway: IotGateway
    cap: dict[str, int]

    def fill_disk(self) -> None:
        """Cap the database at its size, then fill what room is left in its pages."""
        with self.db.engine.connect() as connection:
            connection.execute(text("CREATE TABLE filler (x BLOB)"))
            connection.commit()
            self.cap["pages"] = connection.execute(text("PRAGMA page_count")).scalar_one()
        self.db.engine.dispose()  # pooled connections reopen with the cap
        # Other files take the free pages, and older history the room left in the pages
        # of the telemetry table and its index: the next reading needs a page there is none of.
        fill = [f"INSERT INTO filler VALUES (zeroblob({size}))" for size in (4000, 500, 50, 1)]
        fill += [
            "INSERT INTO telemetry_sample (vehicle_id, source, recorded_at, received_at, raw) "
            f"VALUES (1, 'old', '2020-01-01', '2020-01-01', zeroblob({size}))"
            for size in (500, 50, 0)
        ]
        with self.db.engine.connect() as connection:
            for statement in fill:
                while True:
                    try:
                        connection.execute(text(statement))
                        connection.commit()
                    except OperationalError as exc:
                        assert "full" in str(exc)
                        connection.rollback()
                        break

    def free_disk(self) -> None:
        self.cap["pages"] = 1_000_000
        self.db.engine.dispose()


@pytest_asyncio.fixture
async def rig(tmp_path) -> AsyncIterator[Rig]:
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    register_gt06(db, [IMEI], kind="scooter")
    cap = {"pages": 1_000_000}
    event.listen(
        db.engine,
        "connect",
        lambda dbapi, _record: dbapi.execute(f"PRAGMA max_page_count = {cap['pages']}"),
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01, retry_max_s=0.05)
    ingest = IotIngest(db, writer, flush_interval_s=0.05)
    await ingest.refresh()
    gateway = IotGateway(GatewayConfig(ports={"gt06": 0}, host="127.0.0.1"), ingest)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]
    await gateway.start()
    try:
        yield Rig(db, writer, gateway, cap)
    finally:
        await gateway.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        db.close()


def stored_fixes(db: Database) -> set:
    """Fix times of the device's stored readings (not the old history used as filler)."""
    with db.session() as session:
        rows = select(TelemetrySample.recorded_at).where(TelemetrySample.source == "iot")
        return {t.replace(tzinfo=fix_time(0).tzinfo) for t in session.scalars(rows)}


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.telemetry.writer",
    r"storing telemetry failed, will retry: \(sqlite",
    level="ERROR",
)
async def test_full_disk_keeps_everything_unacknowledged_then_stores_it(rig, caplog) -> None:
    caplog.set_level(logging.INFO)
    device = Gt06Device(IMEI, "127.0.0.1", rig.gateway.ports["gt06"])
    await device.login()
    rig.fill_disk()
    for serial in range(1, 21):
        device.report(serial)
    await until(lambda: rig.writer.health.attempts >= 30, what="many failed retries")
    health = rig.writer.health
    assert health.problem == "disk full" and health.pending >= 1
    assert describe(health).startswith("Storage: disk full · ")
    assert device.acked == set()  # nothing acknowledged that is not stored
    assert stored_fixes(rig.db) == set()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(errors) <= 2, errors  # once per problem (readings, bookkeeping), not per try
    assert "storing telemetry failed, will retry" in errors[0]
    assert "database or disk is full" in errors[0]

    rig.free_disk()
    await until(lambda: device.acked == set(range(1, 21)), what="every report acknowledged")
    assert stored_fixes(rig.db) == {fix_time(s) for s in range(1, 21)}
    assert rig.writer.health.ok and describe(rig.writer.health) == ""
    assert "storing telemetry works again" in caplog.text
    with rig.db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    await device.close()
