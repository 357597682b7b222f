import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.models import database as db_module
from app.models.database import Database, DatabaseError, head_revision, sqlite_url
from app.models.orm import Base
from app.models.vehicles import VehicleFields, VehicleRepository


def make_db(tmp_path, **kwargs):
    return Database(sqlite_url(tmp_path / "fleet.sqlite"), **kwargs)


def test_migrates_an_empty_database_to_head(tmp_path):
    with make_db(tmp_path) as db:
        assert db.current_revision() is None
        assert db.migrate(tmp_path / "backups") is None  # nothing to back up
        assert db.current_revision() == head_revision()
        with db.engine.connect() as connection:
            tables = {
                row[0]
                for row in connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type='table'")
                )
            }
        assert set(Base.metadata.tables) <= tables


def test_schema_from_migrations_matches_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with make_db(tmp_path) as db:
        db.migrate()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], "models changed without a migration: run alembic revision --autogenerate"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    with make_db(tmp_path) as db:
        db.migrate()
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_existing_database_keeps_its_data_and_is_backed_up_before_migrating(tmp_path, monkeypatch):
    with make_db(tmp_path) as db:
        db.migrate()
        VehicleRepository(db).add(VehicleFields(name="Kept", fleet_number="K-1", kind="car"))
    # Pretend this build ships a newer revision: the start-up must back the file up first.
    real_head = head_revision()
    calls = []
    monkeypatch.setattr(db_module, "head_revision", lambda: calls.append(1) or "9999")
    monkeypatch.setattr(db_module.command, "upgrade", lambda config, rev: calls.append(rev))
    with make_db(tmp_path) as db:
        backup = db.migrate(tmp_path / "backups")
    assert backup is not None and backup.exists()
    assert real_head in backup.name
    with closing(sqlite3.connect(backup)) as copy:
        assert copy.execute("SELECT name FROM vehicle").fetchall() == [("Kept",)]
    monkeypatch.undo()
    with make_db(tmp_path) as db:
        assert db.migrate(tmp_path / "backups") is None  # already current: untouched
        assert [r.name for r in VehicleRepository(db).list_rows()] == ["Kept"]


def test_review_mode_refuses_writes(tmp_path):
    with make_db(tmp_path) as db:
        db.migrate()
    with make_db(tmp_path, read_only=True) as db:
        db.migrate()  # current schema: fine, nothing written
        with pytest.raises(
            OperationalError, match=r"readonly|read-only|query_only|attempt to write"
        ):
            VehicleRepository(db).add(VehicleFields(name="X", fleet_number="X-1", kind="car"))


def test_review_mode_never_migrates(tmp_path):
    (tmp_path / "fleet.sqlite").touch()
    with make_db(tmp_path, read_only=True) as db, pytest.raises(DatabaseError, match="review mode"):
        db.migrate()


def test_unusable_file_gives_a_clear_error(tmp_path):
    (tmp_path / "fleet.sqlite").write_bytes(b"this is not a database" * 100)
    with make_db(tmp_path) as db, pytest.raises(DatabaseError, match="cannot open or migrate"):
        db.migrate()


@pytest.mark.parametrize(
    "url", ["nosuchdialect://u:hunter2@x/db", "garbage", "postgresql+nodriver://x"]
)
def test_an_unusable_url_is_a_database_error_without_the_password(url):
    with pytest.raises(DatabaseError) as info:
        Database(url)
    assert "cannot use the database URL" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.asyncio
async def test_work_asked_of_a_closed_database_says_so(tmp_path):
    """A refresh arriving while quitting gets DatabaseClosed (views drop it quietly), not
    the executor's 'cannot schedule new futures after shutdown'."""
    from app.models.errors import DatabaseClosed

    database = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    database.close()
    with pytest.raises(DatabaseClosed, match="is closed"):
        await database.run(lambda: 1)
