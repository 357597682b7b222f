"""Two workstations starting the same vehicle at once on PostgreSQL: one rental, not two."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from sqlalchemy import func, select, text

from app.models import database as db_module
from app.models.database import Database
from app.models.enums import RentalState as S
from app.models.orm import Rental
from app.models.rentals import RentalRepository, VehicleAlreadyRented
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.helpers.rentals import NOW, OPEN_STATES, open_rental
from tests.helpers.waiting import until


@pytest.fixture
def workstations(pg_url) -> Iterator[tuple[Database, Database]]:
    """Two Database objects (two engines, two connection pools) on one server database."""
    first, second = Database(pg_url), Database(pg_url)
    first.migrate()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _vehicle(db: Database, number: str = "C-1") -> int:
    return VehicleRepository(db).add(VehicleFields(name=number, fleet_number=number, kind="car"))


def _open_count(db: Database, vehicle_id: int) -> int:
    with db.session() as s:
        return s.scalar(
            select(func.count(Rental.id)).where(
                Rental.vehicle_id == vehicle_id, Rental.state.in_(OPEN_STATES)
            )
        )


def test_simultaneous_starts_open_exactly_one_rental(workstations):
    first, second = workstations
    for round_ in range(5):
        car = _vehicle(first, f"C-{round_}")
        barrier = threading.Barrier(2)

        def start(db: Database, car: int = car, barrier: threading.Barrier = barrier) -> object:
            barrier.wait()
            try:
                return open_rental(db, car)
            except VehicleAlreadyRented as exc:
                return exc

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(start, (first, second)))
        won = [o for o in outcomes if isinstance(o, int)]
        lost = [o for o in outcomes if isinstance(o, VehicleAlreadyRented)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert lost[0].rental_id == won[0]
        assert _open_count(first, car) == 1


@pytest.mark.asyncio
async def test_a_start_whose_check_passed_is_refused_by_the_index_and_named(workstations):
    """Forces the race the check cannot see: the other workstation's rental is inserted
    but not committed while this one checks, so only the unique index can stop it."""
    first, second = workstations
    car = _vehicle(first)
    with first.session() as s:
        winner = Rental(
            vehicle_id=car, state=S.CHECK_IN_STARTED.value, operator="a", created_at=NOW
        )
        s.add(winner)
        s.flush()
        loser = asyncio.get_running_loop().run_in_executor(None, open_rental, second, car)

        def blocked_on_the_index() -> bool:
            with s.connection().engine.connect() as probe:
                return bool(
                    probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                        )
                    ).scalar()
                )

        await until(blocked_on_the_index, 10, "the second insert to wait for the first")
    # The first transaction committed on leaving the block: the second insert now fails.
    with pytest.raises(VehicleAlreadyRented) as info:
        await loser
    assert info.value.rental_id == winner.id
    assert "already in rental" in str(info.value)
    assert _open_count(first, car) == 1


@pytest.mark.expect_log("0003_one_open_rental_per_vehicle_py", r"rental \#1 closed as cancelled")
def test_upgrade_from_0002_with_duplicate_open_rentals_on_postgres(pg_url):
    with Database(pg_url) as db:
        config = db_module._alembic_config()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        car = _vehicle(db)
        with db.session() as s:
            rows = [
                Rental(vehicle_id=car, state=state, operator="x", created_at=NOW)
                for state in (S.RENTAL_ACTIVE.value, S.VEHICLE_UNLOCKED.value)
            ]
            s.add_all(rows)
        older, newer = (r.id for r in rows)
        db.migrate()
        repo = RentalRepository(db)
        assert repo.get(older).state == S.CANCELLED.value
        assert "this rental was rental_active" in repo.get(older).note
        assert repo.get(newer).state == S.VEHICLE_UNLOCKED.value
        with pytest.raises(VehicleAlreadyRented) as info:
            open_rental(db, car)
        assert info.value.rental_id == newer
