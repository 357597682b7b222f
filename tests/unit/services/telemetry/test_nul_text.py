"""NUL in device text is stored as ``\\x00`` on SQLite too, so both backends hold the same rows."""

from __future__ import annotations

from sqlalchemy import select

from app.models.orm import TelemetrySample
from app.models.telemetry_reading import MAX_RAW_CHARS, sanitize
from app.models.telemetry_store import TelemetryStore
from tests.unit.services.telemetry.conftest import reading


def test_sanitize_escapes_nul_in_raw_after_clipping_and_leaves_clean_raw_alone():
    clean, dropped = sanitize(reading(1, fuel=10.0, raw="a\x00b"))
    assert (clean.raw, dropped) == ("a\\x00b", 0)
    long, _ = sanitize(reading(1, raw="x" * (MAX_RAW_CHARS - 1) + "\x00\x00"))
    assert long.raw == "x" * (MAX_RAW_CHARS - 1) + "\\x00"
    untouched = reading(1, raw="back\\slash \\x00 as typed")
    assert sanitize(untouched)[0] is untouched


def test_sqlite_stores_the_same_escape_as_postgres(db, vehicle_ids):
    TelemetryStore(db).write_batch([reading(vehicle_ids[0], fuel=5.0, raw="\x00frame")])
    with db.session() as session:
        assert session.scalars(select(TelemetrySample.raw)).all() == ["\\x00frame"]
