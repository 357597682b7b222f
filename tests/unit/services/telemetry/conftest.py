"""A few vehicles in the test's database (``db``, tests/conftest.py), and a reading factory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models.database import Database
from app.models.telemetry_reading import TelemetryReading
from app.models.vehicles import VehicleFields, VehicleRepository

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def vehicle_ids(db: Database) -> list[int]:
    fields = [VehicleFields(name=f"Car {i}", fleet_number=f"C-{i}", kind="car") for i in range(3)]
    return VehicleRepository(db).add_many(fields)


def reading(vehicle_id: int, offset_s: float = 0.0, **values: object) -> TelemetryReading:
    """A Smartcar-style reading ``offset_s`` after T0, received one second later."""
    at = T0 + timedelta(seconds=offset_s)
    return TelemetryReading(
        vehicle_id=vehicle_id,
        source=values.pop("source", "smartcar"),  # type: ignore[arg-type]
        recorded_at=at,
        received_at=at + timedelta(seconds=1),
        **values,  # type: ignore[arg-type]
    )
