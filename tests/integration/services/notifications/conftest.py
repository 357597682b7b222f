"""A database with vehicles, a real alert service, and the dispatcher under test running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest_asyncio

from app.config import AlertSettings, NotificationSettings, Settings
from app.models.database import Database
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.alerts.service import AlertService
from app.services.notifications.dispatcher import NotificationDispatcher


def email_settings(port: int, **overrides: object) -> NotificationSettings:
    email = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "console@fleet.test",
        "recipients": ("ops@fleet.test", "night@fleet.test"),
        "timeout_s": 5.0,
        **overrides.pop("email", {}),  # type: ignore[dict-item]
    }
    options = {"retry_first_s": 0.2, **overrides}
    return NotificationSettings.model_validate({"email": email, **options})


class Fleet:
    """Vehicles whose readings raise alerts through the real alert service."""

    def __init__(self, db: Database) -> None:
        self.db = db
        settings = Settings(alerts=AlertSettings(unlocked_grace_s=0))
        self.alerts = AlertService(db, settings)
        self.ids = VehicleRepository(db).add_many(
            [VehicleFields(name=f"Car {i}", fleet_number=f"C-{i}", kind="car") for i in range(3)]
        )

    def report(self, vehicle_id: int, ago_s: float = 0.0, **values: object) -> None:
        at = datetime.now(UTC) - timedelta(seconds=ago_s)
        reading = TelemetryReading(
            vehicle_id=vehicle_id, source="smartcar", recorded_at=at, received_at=at, **values
        )
        TelemetryStore(self.db).write_batch([reading], [])

    async def low_fuel(self, index: int = 0) -> None:
        """A warning alert on vehicle ``index``."""
        self.report(self.ids[index], fuel=8.0)
        await self.alerts.evaluate([self.ids[index]])

    async def unlocked(self, index: int = 0) -> None:
        """A critical alert on vehicle ``index`` (seen locked, now unlocked, no rental)."""
        self.report(self.ids[index], ago_s=600, locked=True)
        self.report(self.ids[index], locked=False)
        await self.alerts.evaluate([self.ids[index]])


@pytest_asyncio.fixture
async def running() -> AsyncIterator[Callable[[NotificationDispatcher], None]]:
    """``running(dispatcher)`` runs it until the test ends (or ``stop`` cancels them)."""
    tasks: list[asyncio.Task[None]] = []

    def start(dispatcher: NotificationDispatcher) -> None:
        tasks.append(asyncio.create_task(dispatcher.run()))

    try:
        yield start
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
