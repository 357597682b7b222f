"""One open rental per vehicle, enforced by the database (revision 0003) on SQLite."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.models import database as db_module
from app.models.database import Database, head_revision
from app.models.enums import RentalState as S
from app.models.orm import Rental
from app.models.rentals import RentalRepository, VehicleAlreadyRented
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.rentals.states import TERMINAL
from tests.helpers.rentals import NOW, OPEN_STATES, open_rental


@pytest.fixture
def db_migrated() -> bool:
    """``db`` starts empty: each test upgrades it to the revision it needs."""
    return False


def upgrade_to(db: Database, revision: str) -> None:
    config = db_module._alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def add_vehicle(db: Database, number: str) -> int:
    return VehicleRepository(db).add(VehicleFields(name=number, fleet_number=number, kind="car"))


def insert_rental(db: Database, vehicle_id: int, state: str, note: str = "") -> int:
    """A rental row written directly, past the repository's check (as the race did)."""
    with db.session() as s:
        row = Rental(
            vehicle_id=vehicle_id,
            state=state,
            operator="tester",
            customer_ref="",
            created_at=NOW,
            note=note,
        )
        s.add(row)
        s.flush()
        return row.id


def test_the_database_refuses_a_second_open_rental_of_a_vehicle(db):
    db.migrate()
    car, other_car = add_vehicle(db, "C-1"), add_vehicle(db, "C-2")
    insert_rental(db, car, S.RENTAL_ACTIVE.value)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        insert_rental(db, car, S.CHECK_IN_STARTED.value)
    # Closed rentals are history: any number of them, and one open rental per vehicle.
    for state in TERMINAL:
        insert_rental(db, car, state.value)
    insert_rental(db, other_car, S.BILLING_COMPLETE.value)
    with db.engine.connect() as connection:
        sql = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'uq_rental_open_vehicle'")
        ).scalar_one()
    assert "UNIQUE" in sql and "state NOT IN" in sql


def test_a_start_that_loses_the_race_to_the_index_names_the_winning_rental(db, monkeypatch):
    """The check sees nothing (the other workstation had not committed yet); the index
    refuses the insert and the operator still gets the typed error with the rental."""
    db.migrate()
    car = add_vehicle(db, "C-1")
    winner = insert_rental(db, car, S.VEHICLE_UNLOCKED.value)
    real_open_id = RentalRepository._open_id
    calls: list[int] = []

    def blind_first_check(s, vehicle_id, open_states):
        calls.append(vehicle_id)
        return None if len(calls) == 1 else real_open_id(s, vehicle_id, open_states)

    monkeypatch.setattr(RentalRepository, "_open_id", staticmethod(blind_first_check))
    with pytest.raises(VehicleAlreadyRented) as info:
        open_rental(db, car)
    assert info.value.rental_id == winner
    assert len(calls) == 2
    with db.session() as s:
        assert s.query(Rental).count() == 1


@pytest.mark.expect_log("0003_one_open_rental_per_vehicle_py", r"rental \#1 closed as cancelled")
def test_upgrade_from_0002_closes_older_duplicate_open_rentals_and_keeps_their_data(db):
    upgrade_to(db, "0002")
    car, scooter = add_vehicle(db, "C-1"), add_vehicle(db, "S-1")
    older = insert_rental(db, car, S.RENTAL_ACTIVE.value, note="check-in by a")
    newer = insert_rental(db, car, S.PRE_CONDITION_DOCUMENTED.value)
    done = insert_rental(db, car, S.COMPLETED.value, note="completed")
    alone = insert_rental(db, scooter, S.RENTAL_ACTIVE.value)

    db.migrate()

    assert db.current_revision() == head_revision()
    repo = RentalRepository(db)
    closed = repo.get(older)
    assert closed is not None and closed.state == S.CANCELLED.value
    assert closed.note.startswith("check-in by a\n")
    assert f"also had rental #{newer} open; this rental was rental_active" in closed.note
    assert closed.ended_at is not None
    assert [r.id for r in repo.in_states(OPEN_STATES)] == [newer, alone]
    assert repo.get(done).note == "completed"  # closed rentals untouched
    with pytest.raises(VehicleAlreadyRented) as info:
        open_rental(db, car)
    assert info.value.rental_id == newer


def test_upgrade_from_0002_without_duplicates_changes_no_rental(db):
    upgrade_to(db, "0002")
    car = add_vehicle(db, "C-1")
    ids = [insert_rental(db, car, s.value, note=s.value) for s in (S.CANCELLED, S.RENTAL_ACTIVE)]
    db.migrate()
    rentals = [RentalRepository(db).get(i) for i in ids]
    assert [(r.state, r.note, r.ended_at) for r in rentals] == [
        ("cancelled", "cancelled", None),
        ("rental_active", "rental_active", None),
    ]
