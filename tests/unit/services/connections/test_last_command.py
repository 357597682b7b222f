"""The connection panel's "Last command" comes from the audit trail (issue #13 item 9:
it said "none yet" after commands ran, because only a successful send set the column)."""

from datetime import UTC, datetime

from app.models.command_audit import CommandAudit
from app.models.connections import ConnectionRepository
from app.models.database import Database, sqlite_url
from app.models.orm import SmartcarConnection
from app.models.vehicles import VehicleFields, VehicleRepository

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_last_command_reflects_every_audited_smartcar_command(tmp_path):
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    try:
        [car] = VehicleRepository(db).add_many(
            [VehicleFields(name="Car", fleet_number="C-1", kind="car")]
        )
        with db.session() as s:
            s.add(SmartcarConnection(vehicle_id=car, smartcar_vehicle_id="sc", status="active"))
        repo = ConnectionRepository(db)
        assert repo.latest_for_vehicle(car).last_command_at is None
        audit = CommandAudit(db)
        for channel, at in (("smartcar", AT), ("iot", AT.replace(hour=10))):
            audit.open(
                vehicle_id=car,
                action="unlock",
                channel=channel,
                actor_user="ann",
                actor_host="desk",
                reason="",
                at=at,
            )
        assert repo.latest_for_vehicle(car).last_command_at == AT  # the failed send counts
    finally:
        db.close()
