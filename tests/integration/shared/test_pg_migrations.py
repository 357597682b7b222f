"""The same models and migrations on PostgreSQL, and two workstations migrating at once."""

from __future__ import annotations

import asyncio
import threading

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.models import database as db_module
from app.models.database import Database, head_revision
from app.models.orm import Base
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.helpers.waiting import until


def _dsn(url: str) -> str:
    u = make_url(url)
    return f"host={u.host} port={u.port} user={u.username} dbname={u.database}"


def test_migrations_bring_postgres_to_head_and_match_the_models(pg_url):
    with Database(pg_url) as db:
        assert db.current_revision() is None
        db.migrate()
        assert db.current_revision() == head_revision()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], "models and migrations differ on PostgreSQL"
        vehicle_id = VehicleRepository(db).add(
            VehicleFields(name="Shared", fleet_number="S-1", kind="car")
        )
        assert [r.id for r in VehicleRepository(db).list_rows()] == [vehicle_id]


def test_two_workstations_starting_at_once_migrate_one_after_the_other(pg_url):
    """The advisory lock really serialises: while held, no migration proceeds."""
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def start_workstation() -> None:
        try:
            with Database(pg_url) as db:
                start.wait()
                db.migrate()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with psycopg.connect(_dsn(pg_url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (db_module._MIGRATION_LOCK_ID,))
        threads = [threading.Thread(target=start_workstation) for _ in range(2)]
        for t in threads:
            t.start()
        start.wait()

        def waiting() -> int:
            row = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            return row[0]

        asyncio.run(until(lambda: waiting() == 2, 10, "both migrations to wait for the lock"))
        tables = holder.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        assert tables == (0,), "a migration ran while the lock was held"
        holder.execute("SELECT pg_advisory_unlock(%s)", (db_module._MIGRATION_LOCK_ID,))
        for t in threads:
            t.join(30)
    assert errors == []
    with Database(pg_url) as db, db.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(head_revision(),)]


def test_concurrent_starts_on_fresh_databases_never_fail(postgres):
    """No lock held by the test: the two starts race for real, several times."""
    for _ in range(3):
        url = postgres.create_database("race")
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def start_workstation(url: str = url, errors: list = errors, start=start) -> None:
            try:
                with Database(url) as db:
                    start.wait()
                    db.migrate()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start_workstation) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        with Database(url) as db:
            assert db.current_revision() == head_revision()
