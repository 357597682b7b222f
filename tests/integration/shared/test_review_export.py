"""Export from the shared database for offline review, and review mode's guarantees."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.models.connections import ConnectionRepository, EncryptedTokens
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection, TelemetrySample
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.connections.backends import start_backends
from app.services.tasks import TaskOwner
from app.services.telemetry.review_export import ExportRequest, export_for_review
from app.services.telemetry.writer import TelemetryReading
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import Mode
from app.services.wiring.workers import start_workers

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _fill(database: Database) -> tuple[int, int]:
    vehicles = VehicleRepository(database)
    car = vehicles.add(VehicleFields(name="Car", fleet_number="C-1", kind="car"))
    other = vehicles.add(VehicleFields(name="Other", fleet_number="C-2", kind="car"))
    at = [T0 + timedelta(minutes=m) for m in range(0, 120, 10)]
    readings = [
        TelemetryReading(v, "iot", t, t + timedelta(seconds=1), lat=52.5, lon=13.4 + i / 1000)
        for v in (car, other)
        for i, t in enumerate(at)
    ]
    TelemetryStore(database).write_batch(readings, [])
    secret = EncryptedTokens(b"access-cipher", b"refresh-cipher", T0, T0 + timedelta(days=60))
    ConnectionRepository(database).save_link(
        car,
        smartcar_vehicle_id="sc-1",
        smartcar_user_id="u",
        scopes=[],
        tokens=secret,
        status="active",
        reason="",
        now=T0,
        identity=("", "", None, None),
    )
    return car, other


@pytest.mark.asyncio
async def test_export_copies_the_chosen_vehicles_and_range_without_tokens(tmp_path, pg_url):
    source = Database(pg_url)
    try:
        source.migrate()
        car, _other = _fill(source)
        seen: list[tuple[int, int]] = []
        request = ExportRequest([car], T0 + timedelta(minutes=30), T0 + timedelta(minutes=60))
        summary = export_for_review(
            source, tmp_path / "review.sqlite", request, lambda *p: seen.append(p)
        )
    finally:
        source.close()
    assert summary.rows["vehicle"] == 1
    assert summary.rows["telemetry_sample"] == 4  # minutes 30, 40, 50, 60
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == sum(summary.rows.values())
    assert not list(tmp_path.glob("*.partial*"))
    with Database(sqlite_url(tmp_path / "review.sqlite"), read_only=True) as copy:
        with copy.session() as s:
            connection = s.scalars(select(SmartcarConnection)).one()
            assert connection.refresh_token_enc is None and connection.access_token_enc is None
            times = s.scalars(select(TelemetrySample.recorded_at)).all()
        assert min(times) == T0 + timedelta(minutes=30)
        assert {r.id for r in VehicleRepository(copy).list_rows()} == {car}


@pytest.mark.asyncio
async def test_review_mode_opens_the_export_read_only_with_no_workers_or_network(tmp_path, pg_url):
    source = Database(pg_url)
    try:
        source.migrate()
        _fill(source)
        file = export_for_review(source, tmp_path / "review.sqlite").file
    finally:
        source.close()
    before = hashlib.sha256(file.read_bytes()).hexdigest()
    paths = resolve_paths(tmp_path / "data").ensure()
    backends = await start_backends(Settings(), demo=False, offline=True)
    context = open_context(
        Settings(), paths, db_url=sqlite_url(file), review=True, backends=backends
    )
    tasks = TaskOwner()
    try:
        assert context.mode is Mode.REVIEW and context.read_only
        assert context.backends.smartcar is None and context.backends.simulator is None
        assert context.telemetry_writer is None and context.telemetry_cron is None
        assert start_workers(context, tasks).names == []
        assert tasks.running == []
        assert len(context.vehicles.repository.list_rows()) == 2
        with pytest.raises(OperationalError, match=r"readonly|read-only|query_only"):
            VehicleRepository(context.database).add(
                VehicleFields(name="New", fleet_number="N-1", kind="car")
            )
    finally:
        await tasks.shutdown()
        context.close()
    assert hashlib.sha256(file.read_bytes()).hexdigest() == before
    assert not (tmp_path / "review.sqlite-wal").exists()
