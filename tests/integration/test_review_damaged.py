"""``--review`` of a file with corrupted telemetry pages: it opens, and says what is damaged."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from app.models.database import Database, sqlite_url
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.integration.test_startup import run_main

PAGE = 4096


def review_file_with_damaged_telemetry(path: Path) -> None:
    """A migrated database with one vehicle and 5,000 samples, then telemetry pages garbled."""
    database = Database(sqlite_url(path))
    database.migrate()
    VehicleRepository(database).add_many(
        [VehicleFields(name="Car 1", fleet_number="C-001", kind="car")]
    )
    database.close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.executemany(
            "INSERT INTO telemetry_sample (vehicle_id, source, recorded_at, received_at, raw) "
            "VALUES (1, 'iot', ?, ?, ?)",
            [
                (f"2026-03-01 12:{n // 60 % 60:02d}:{n % 60:02d}",) * 2 + ("x" * 80,)
                for n in range(5000)
            ],
        )
        db.commit()
        assert db.execute("PRAGMA page_size").fetchone() == (PAGE,)
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'telemetry_sample'"
        ).fetchone()
    data = bytearray(path.read_bytes())
    start = (root - 1) * PAGE  # the table's root (an interior page): its child pointers
    data[start + 12 : start + PAGE] = b"\xa5" * (PAGE - 12)
    path.write_bytes(bytes(data))


def test_damaged_tables_are_named(tmp_path) -> None:
    path = tmp_path / "review.sqlite"
    review_file_with_damaged_telemetry(path)
    with Database(sqlite_url(path), read_only=True) as database:
        assert database.damaged_tables() == ["telemetry_sample"]


def test_an_intact_file_has_no_damage(tmp_path) -> None:
    with Database(sqlite_url(tmp_path / "fine.sqlite")) as database:
        database.migrate()
        assert database.damaged_tables() == []


def test_review_of_a_damaged_file_opens_and_warns(tmp_path) -> None:
    path = tmp_path / "review.sqlite"
    review_file_with_damaged_telemetry(path)
    before = path.read_bytes()
    result = run_main("--data-dir", str(tmp_path / "data"), "--review", str(path), "--smoke-test")
    assert result.returncode == 0, result.stderr
    assert "is damaged: telemetry_sample failed the integrity check" in result.stderr
    assert "main window shown with 1 vehicles" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before
