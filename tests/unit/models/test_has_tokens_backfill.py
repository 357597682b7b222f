"""Revision 0009 backfills ``has_tokens`` from the stored pairs (issue #18)."""

from alembic import command
from sqlalchemy import text

from app.models.connections import ConnectionRepository
from app.models.database import Database, _alembic_config, sqlite_url
from app.models.vehicles import VehicleFields, VehicleRepository


def test_a_stored_pair_becomes_has_tokens_and_a_wiped_one_does_not(tmp_path):
    with Database(sqlite_url(tmp_path / "fleet.sqlite")) as db:
        config = _alembic_config()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0008")
        VehicleRepository(db).add(VehicleFields(name="A", fleet_number="A-1", kind="car"))
        with db.engine.begin() as connection:
            for i, blob in ((1, "x'01'"), (2, "NULL")):
                connection.execute(
                    text(
                        "INSERT INTO smartcar_connection (id, vehicle_id, smartcar_vehicle_id, "
                        "status, status_reason, granted_scopes, access_token_enc, "
                        "refresh_token_enc, last_error, budget_month, requests_this_month) "
                        f"VALUES ({i}, 1, 'sc-{i}', 'active', '', '[]', {blob}, {blob}, '', '', 0)"
                    )
                )
        db.migrate()
        repository = ConnectionRepository(db)
        first, second = repository.get(1), repository.get(2)
        assert first is not None and first.can_call
        assert second is not None and not second.can_call
        with db.engine.connect() as connection:
            stored = connection.execute(
                text("SELECT id, has_tokens FROM smartcar_connection ORDER BY id")
            ).all()
        assert [tuple(r) for r in stored] == [(1, 1), (2, 0)]
