"""Opening a rental straight through the repository, as the race and index tests need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.models.database import Database
from app.models.enums import RentalState
from app.models.rentals import RentalRepository
from app.services.rentals.states import OPEN

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OPEN_STATES = tuple(s.value for s in OPEN)


def open_rental(db: Database, vehicle_id: int) -> int:
    """A check-in started by "tester" at NOW; VehicleAlreadyRented if one is open."""
    return RentalRepository(db).open(
        vehicle_id,
        state=RentalState.CHECK_IN_STARTED.value,
        open_states=OPEN_STATES,
        operator="tester",
        customer_ref="",
        now=NOW,
        deadline=NOW + timedelta(minutes=15),
    )
