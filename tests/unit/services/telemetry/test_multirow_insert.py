"""SQLite writes rows in multi-row statements: exactly the rows one statement per row gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.models.database import Database, sqlite_url
from app.models.telemetry_store import TelemetryStore, _SqliteRows
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.unit.services.telemetry.conftest import reading


def _stored(tmp_path: Path, name: str, rows_per_statement: int) -> list[list[tuple]]:
    """Three chunked batches (full chunks, an odd last one, a lone row) into a new file."""
    with Database(sqlite_url(tmp_path / f"{name}.sqlite")) as db:
        db.migrate()
        fields = [
            VehicleFields(name=f"Car {i}", fleet_number=f"C-{i}", kind="car") for i in range(7)
        ]
        vids = VehicleRepository(db).add_many(fields)
        store = TelemetryStore(db)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_SqliteRows, "ROWS_PER_STATEMENT", rows_per_statement)
            for size in (1201, 13, 1):
                store.write_batch(
                    [
                        reading(vids[i % 7], i + size, lat=50 + i / 1e4, lon=8.0, speed=i % 90)
                        for i in range(size)
                    ]
                )
        with db.engine.connect() as connection:
            return [
                list(connection.execute(text(f"SELECT * FROM {table} ORDER BY 1")))
                for table in ("telemetry_sample", "vehicle_state")
            ]


def test_multirow_statements_store_what_one_statement_per_row_stores(tmp_path):
    chunked = _stored(tmp_path, "chunked", _SqliteRows.ROWS_PER_STATEMENT)
    assert len(chunked[0]) == 1201 + 13 + 1 and len(chunked[1]) == 7
    assert chunked == _stored(tmp_path, "per_row", 1)
