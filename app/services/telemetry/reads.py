"""What the views read of the telemetry: latest values, chart series, tracks, exports.

Every method is awaitable and runs its query on the database thread, so no view ever
holds the database or blocks the GUI thread on it. Exports write CSV (or, for offline
review, a whole SQLite file) and return what they wrote.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from app.models.chart_series import ChartData, load_chart
from app.models.database import Database
from app.models.telemetry_queries import LatestState, TelemetryQueries
from app.models.track_queries import Track, TrackQueries
from app.services.telemetry.exports import export_audit, export_rentals, export_telemetry
from app.services.telemetry.review_export import (
    ExportRequest,
    ExportSummary,
    Progress,
    export_for_review,
)


class TelemetryReads:
    """Reads for the map, the readouts, the charts and Route Replay."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._latest = TelemetryQueries(database)
        self._tracks = TrackQueries(database)

    async def latest(self, vehicle_id: int) -> LatestState | None:
        return await self._db.run(self._latest.latest, vehicle_id)

    async def chart(self, vehicle_id: int, since: datetime | None, until: datetime) -> ChartData:
        """Every chart series of one vehicle: one query for all columns, or a min/max
        overview when the range is too big to chart raw."""
        return await self._db.run(load_chart, self._db, vehicle_id, since, until)

    async def track(self, vehicle_id: int, since: datetime, until: datetime) -> Track:
        return await self._db.run(self._tracks.track, vehicle_id, since, until)


class Exports:
    """The files people hand over (product.md 4.6): CSV of rentals, the audit trail and
    one vehicle's telemetry, and the self-contained SQLite file for offline review."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def rentals(self, path: Path) -> int:
        return await self._db.run(export_rentals, self._db, path)

    async def audit(self, path: Path) -> int:
        return await self._db.run(export_audit, self._db, path)

    async def telemetry(self, path: Path, vehicle_id: int, since: datetime, until: datetime) -> int:
        return await self._db.run(export_telemetry, self._db, path, vehicle_id, since, until)

    async def for_review(
        self, target: Path, request: ExportRequest, progress: Progress | None = None
    ) -> ExportSummary:
        """Raises ExportError. On a thread of its own: it reads the whole database, and the
        database thread must stay free for the console's writes meanwhile."""
        return await asyncio.to_thread(export_for_review, self._db, target, request, progress)
