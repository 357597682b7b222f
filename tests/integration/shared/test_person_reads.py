"""A person's console reads connections without the token columns (issue #18).

People's roles may SELECT every column of ``smartcar_connection`` except the two token
ciphertexts; the repository methods the views and services call must never name them,
and ``can_call`` must still say which connections can make API calls.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime

import pytest
from psycopg import errors

from app.models.connections import ConnectionRepository, EncryptedTokens
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.telemetry.review_export import export_for_review
from tests.integration.shared.people import Fleet

AT = datetime(2030, 1, 1, tzinfo=UTC)
PAIR = EncryptedTokens(b"access", b"refresh", AT, AT)


def _link(db: Database, vehicle_id: int, car: str, tokens: EncryptedTokens | None) -> int:
    return ConnectionRepository(db).save_link(
        vehicle_id,
        smartcar_vehicle_id=car,
        smartcar_user_id=f"user-{car}",
        scopes=["read_location"],
        tokens=tokens,
        status="active",
        reason="",
        now=AT,
        identity=("Ford", "Focus", 2020, None),
    )


@pytest.fixture
def linked(fleet: Fleet) -> dict[str, int]:
    """As the owner: a v2.0 car with tokens, a V3 car, a v2.0 car disconnected."""
    with Database(fleet.url) as db:
        ids = VehicleRepository(db).add_many(
            [VehicleFields(name=n, fleet_number=n, kind="car") for n in ("V2", "V3", "Gone")]
        )
        rows = {
            "v2": _link(db, ids[0], "sc-v2", PAIR),
            "v3": _link(db, ids[1], "sc-v3", None),
            "gone": _link(db, ids[2], "sc-gone", PAIR),
        }
        ConnectionRepository(db).disconnect(rows["gone"], "by test")
    return rows


def test_a_viewer_lists_and_shows_connections_and_can_call_is_right(fleet, linked):
    viewer = fleet.person("viewer")
    with Database(fleet.url_of(viewer)) as db:
        repository = ConnectionRepository(db)
        can_call = {r.smartcar_vehicle_id: r.can_call for r in repository.latest_per_vehicle()}
        assert can_call == {"sc-1": True, "sc-v2": True, "sc-v3": True, "sc-gone": False}
        for name, connection_id in linked.items():
            record = repository.get(connection_id)
            assert record is not None and record.can_call == (name != "gone")
            latest = repository.latest_for_vehicle(record.vehicle_id)
            assert latest is not None and latest.id == connection_id
        assert [r.smartcar_vehicle_id for r in repository.live_v3()] == ["sc-v3"]
    with (
        fleet.connect(viewer) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="smartcar_connection"),
    ):
        conn.execute("SELECT refresh_token_enc FROM smartcar_connection")


def test_a_dispatcher_exports_for_review_without_the_tokens(fleet, linked, tmp_path):
    dispatcher = fleet.person("dispatcher")
    with Database(fleet.url_of(dispatcher)) as db:
        summary = export_for_review(db, tmp_path / "review.sqlite")
    assert summary.rows["smartcar_connection"] == 4  # the fixture's row and ours
    assert summary.left_out == [
        "smartcar_connection.access_token_enc",
        "smartcar_connection.refresh_token_enc",
    ]
    with closing(sqlite3.connect(tmp_path / "review.sqlite")) as copy:
        stored = copy.execute(
            "SELECT count(*) FROM smartcar_connection "
            "WHERE access_token_enc IS NOT NULL OR refresh_token_enc IS NOT NULL"
        ).fetchone()
    assert stored == (0,)
