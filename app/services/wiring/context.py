"""What one running console (or collector) is made of, built once at start-up.

Views receive an AppContext instead of reaching for globals, so a test builds one on a
temporary database and drives the real window with it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from app.config import Settings
from app.models.database import Database, sqlite_url
from app.paths import AppPaths
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import TokenCipher
from app.services.vehicles.demo_fleet import seed_if_empty
from app.services.vehicles.service import VehicleService
from app.services.wiring.backends import Backends

if TYPE_CHECKING:
    from app.services.iot.runtime import IotRuntime
    from app.services.telemetry.cron import TelemetryCron
    from app.services.telemetry.writer import TelemetryWriter
    from app.services.wiring.operations import Operations

logger = logging.getLogger(__name__)


class Mode(enum.StrEnum):
    DEMO = "demo"
    LIVE = "live"
    SHARED = "shared"
    REVIEW = "review"


@dataclass
class AppContext:
    settings: Settings
    paths: AppPaths
    database: Database
    mode: Mode
    vehicles: VehicleService
    backends: Backends = field(default_factory=Backends)  # started on the loop, see main.py
    # Telemetry (issue 5), started on the loop by telemetry_runtime.start_telemetry in demo
    # and live mode; None in review mode or before start-up finished.
    telemetry_writer: TelemetryWriter | None = None
    telemetry_cron: TelemetryCron | None = None
    # IoT gateway, ingest, commands and serial readers (issue 6), started by main.py with
    # iot_runtime.start_iot in demo and live mode; None otherwise or if it could not start.
    iot: IotRuntime | None = None
    # Rentals, alerts and vehicle commands (issue 7): built on first use by
    # operations.operations(context); start_operations also spawns their sweeps.
    operations: Operations | None = None

    @property
    def read_only(self) -> bool:
        return self.mode is Mode.REVIEW

    @cached_property
    def connections(self) -> ConnectionService:
        """Smartcar connections; built on first use and reads ``backends`` late, because
        main.py starts the backends after the context exists."""
        demo = self.mode is Mode.DEMO
        return ConnectionService(
            self.database,
            self.vehicles,
            TokenCipher(self.paths.data_dir),
            lambda: self.backends,
            connect_mode="simulated" if demo else "live",
            demo=demo,
        )

    def close(self) -> None:
        self.database.close()


def database_url(settings: Settings, paths: AppPaths, override: str | None) -> str:
    """--db wins over the settings file, which wins over the SQLite file in the data dir."""
    return override or settings.database_url or sqlite_url(paths.database_file)


def choose_mode(settings: Settings, url: str, review: bool) -> Mode:
    if review:
        return Mode.REVIEW
    if not url.startswith("sqlite"):
        return Mode.SHARED
    return Mode.LIVE if settings.live else Mode.DEMO


def open_context(
    settings: Settings, paths: AppPaths, *, db_url: str | None = None, review: bool = False
) -> AppContext:
    """Open and migrate the database, seed the demo fleet in demo mode.

    Raises DatabaseError with an operator-readable message when the database is unusable.
    """
    url = database_url(settings, paths, db_url)
    mode = choose_mode(settings, url, review)
    database = Database(url, read_only=review)
    try:
        database.migrate(paths.backup_dir)
        vehicles = VehicleService(database)
        if mode is Mode.DEMO:
            added = seed_if_empty(vehicles.repository, settings.demo)
            if added:
                logger.info("demo fleet of %d vehicles seeded", added)
    except Exception:
        database.close()
        raise
    logger.info("mode %s, database %s", mode.value, database.describe())
    return AppContext(settings, paths, database, mode, vehicles)
