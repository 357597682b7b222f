"""The audit trail names the signed-in person the database recorded, not what the
workstation typed (issue #18: "unforgeable by a client")."""

from __future__ import annotations

from app.models.audit_queries import audit_rows
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.commands.collector_relay import queue_command
from tests.helpers.people import person


def test_a_queued_command_shows_the_login_that_queued_it(postgres, pg_url):
    with Database(pg_url) as owner:
        owner.migrate()
        vehicle_id = VehicleRepository(owner).add(
            VehicleFields(name="Focus", fleet_number="F-1", kind="car")
        )
    with person(postgres, pg_url, "dispatcher") as (login, url), Database(url) as db:
        queue_command(db, vehicle_id, "unlock", actor_user="boss", actor_host="desk-7")
        [row] = audit_rows(db)
        assert row.actor == f"{login} (workstation user boss@desk-7)"
        assert [r.id for r in audit_rows(db, search=login)] == [row.id]
