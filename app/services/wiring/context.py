"""What one running console (or collector) is made of: every service, built once.

:mod:`app.services.wiring.bootstrap` builds an :class:`AppContext` and nothing else does.
It is frozen: no field is filled in later, so whoever holds it sees the same services
from the first moment on. Parts that come and go while the process runs (the IoT gateway
under its supervisor) sit behind a handle that says whether they run now.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from app.config import Settings
from app.models.database import Database, sqlite_url
from app.paths import AppPaths
from app.services.access import Access
from app.services.alerts.service import AlertService
from app.services.change_feed import Change, ChangeListener, ChangePublisher
from app.services.commands.audit import AuditTrail
from app.services.commands.collector_relay import CommandRelay
from app.services.commands.senders import VehicleCommands
from app.services.connections.backends import Backends
from app.services.connections.handoff import ConnectHandoff
from app.services.connections.service import ConnectionService
from app.services.field_tasks.service import TaskService
from app.services.iot.runtime import IotHandle
from app.services.notifications.alert_feed import AlertFeed
from app.services.notifications.dispatcher import NotificationDispatcher
from app.services.people import PeopleService
from app.services.rentals.service import RentalService
from app.services.retention import Retention
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.reads import Exports, TelemetryReads
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.service import VehicleService
from app.services.webhooks.runtime import WebhookRuntime
from app.services.zones.service import ZoneService


class Mode(enum.StrEnum):
    DEMO = "demo"
    LIVE = "live"
    SHARED = "shared"
    REVIEW = "review"


class Role(enum.StrEnum):
    """Which process this is: a console with a window, or the headless collector."""

    CONSOLE = "console"
    COLLECTOR = "collector"


@dataclass(frozen=True)
class AppContext:
    """The services of one process; see :func:`app.services.wiring.bootstrap.assemble`.

    ``telemetry_writer`` exists only where pollers run (demo and live consoles, the
    collector); ``telemetry_cron`` only there and when Smartcar is available;
    ``command_relay``, ``connect_handoff`` and ``publisher`` only on the collector of a
    shared database.
    """

    settings: Settings
    paths: AppPaths
    database: Database
    mode: Mode
    role: Role
    backends: Backends
    vehicles: VehicleService
    connections: ConnectionService
    commands: VehicleCommands
    rentals: RentalService
    alerts: AlertService
    iot: IotHandle
    telemetry: TelemetryReads
    exports: Exports
    audit: AuditTrail
    telemetry_writer: TelemetryWriter | None
    telemetry_cron: TelemetryCron | None
    command_relay: CommandRelay | None
    publisher: ChangePublisher | None
    #: The collector of a shared database: carries out the consoles' Connect requests.
    connect_handoff: ConnectHandoff | None = None
    #: Smartcar webhooks (V3): built where telemetry is stored and a signing key is known.
    webhooks: WebhookRuntime | None = None
    #: Prunes old history rows ([retention]): where the alert rules run, as notifications.
    retention: Retention | None = None
    #: What the signed-in person may do (shared mode); everything when single-user.
    access: Access = field(default_factory=lambda: Access(None))
    #: People and their roles (the Administration window); unavailable on SQLite.
    people: PeopleService | None = None
    #: Zones (issue #19): editing, presence (its worker runs where telemetry is stored).
    zones: ZoneService | None = None
    #: Field tasks and maintenance plans (issue #19); the rules run where ``telemetry_writer`` is.
    tasks: TaskService | None = None
    #: Alerts sent by e-mail and to the desktop: built where the alert rules run, and on a
    #: shared console for its desktop only (the collector sends the e-mail); not in review.
    notifications: NotificationDispatcher | None = None
    #: A shared console: the alerts the collector raised, read for ``notifications``.
    alert_feed: AlertFeed | None = None

    @property
    def read_only(self) -> bool:
        return self.mode is Mode.REVIEW

    @property
    def database_label(self) -> str:
        """Where the data lives, for the status bar ("SQLite /path", "PostgreSQL host/db")."""
        return self.database.describe()

    def change_listener(
        self,
        on_change: Callable[[Change], None],
        *,
        on_resync: Callable[[], None],
        on_state: Callable[[bool], None],
    ) -> ChangeListener:
        """A listener on the shared database's change feed (run it under a supervisor)."""
        return ChangeListener(self.database.url, on_change, on_resync=on_resync, on_state=on_state)

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


def runs_pollers(mode: Mode, role: Role) -> bool:
    """Whether this process polls, runs the gateway and stores telemetry: not in review
    mode, and not a console on a shared database (the collector does it for them)."""
    if mode is Mode.REVIEW:
        return False
    return role is Role.COLLECTOR or mode is not Mode.SHARED
