"""Telemetry written the way the app writes it (TelemetryStore), for the GUI tests."""

from __future__ import annotations

from datetime import datetime

from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.services.wiring.context import AppContext


def reading(vehicle_id: int, at: datetime, **values: object) -> TelemetryReading:
    return TelemetryReading(vehicle_id, "iot", at, at, **values)


def store(context: AppContext, readings: list[TelemetryReading]) -> None:
    """Write ``readings`` in one batch (blocking; fine before the window loads)."""
    outcome = TelemetryStore(context.database, heartbeat_s=None).write_batch(readings)
    assert outcome.dropped_readings == 0, outcome
