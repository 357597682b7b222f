"""GT06 trackers registered in a test database: the fleet the IoT reliability tests share."""

from __future__ import annotations

from collections.abc import Sequence

from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository


def register_gt06(database: Database, imeis: Sequence[str], kind: str = "car") -> dict[str, int]:
    """Add one Concox GT06 vehicle per IMEI (migrated database); IMEI -> vehicle id."""
    fields = [
        VehicleFields(
            name=f"Tracker {n}",
            fleet_number=f"T-{n:03d}",
            kind=kind,
            imei=imei,
            connection_type="iot",
            iot_vendor="Concox",
            iot_protocol="gt06",
        )
        for n, imei in enumerate(imeis, start=1)
    ]
    ids = VehicleRepository(database).add_many(fields)
    return dict(zip(imeis, ids, strict=True))
