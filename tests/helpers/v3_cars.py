"""Cars with subscribed Smartcar V3 connections, written straight into a migrated database:
``veh-{i}`` of ``user-1``, for tests and benchmarks that feed webhook deliveries without
walking Connect for each car."""

from __future__ import annotations

from datetime import UTC, datetime

from app.models.database import Database
from app.models.orm import SmartcarConnection, Vehicle


def add_v3_cars(db: Database, count: int) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        for i in range(count):
            v = Vehicle(
                name=f"Car {i}", fleet_number=f"C-{i}", kind="car", created_at=now, updated_at=now
            )
            s.add(v)
            s.flush()
            s.add(
                SmartcarConnection(
                    vehicle_id=v.id,
                    smartcar_vehicle_id=f"veh-{i}",
                    smartcar_user_id="user-1",
                    status="active",
                    api_version="3",
                    webhook_state="subscribed",
                    granted_scopes=[],
                )
            )
