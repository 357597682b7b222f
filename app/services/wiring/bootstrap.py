"""The one way in: every service of a process built exactly once, for its role and mode.

Four kinds of process are built here and nowhere else:

* a standalone console (demo or live, SQLite): it polls, runs the gateway and executes
  its own commands;
* a console on a shared PostgreSQL database: it polls nothing, queues its commands for
  the collector (``RelayedCommands``) and hands Connect and Disconnect to it
  (``HandoffClient``); it holds no token key (``NoTokenKey``) and no client secret;
  its dispatcher sends only to its desktop, the alerts the collector raised (``AlertFeed``);
* the collector of a shared database: it polls, runs the gateway, executes the consoles'
  queued commands (``CommandRelay``), links the consoles' Connect results
  (``ConnectHandoff``) and publishes every change it commits;
* offline review: read-only, nothing runs.

Start-up is two steps because the database must be opened (and its errors shown) before
the event loop runs, while the Smartcar backends start on the loop:
:func:`open_database` first, then :func:`assemble` with the started backends. What each
service is handed is decided here, explicitly; :mod:`app.services.wiring.workers` then
spawns the background work of what was built. :func:`open_context` does both steps for
tests and tools that need no live Smartcar backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from app.config import Settings
from app.models.database import Database
from app.models.errors import SignInRefused
from app.models.field_tasks import TaskRepository
from app.models.rentals import vehicle_basics
from app.models.roles import SignedIn
from app.paths import AppPaths
from app.services.access import Access
from app.services.alerts.service import AlertService
from app.services.change_feed import ChangePublisher, is_postgres
from app.services.commands.audit import AuditTrail
from app.services.commands.collector_relay import CommandRelay
from app.services.commands.console_requests import RelayedCommands
from app.services.commands.senders import (
    IotCommands,
    RoutedCommands,
    SmartcarCommands,
    VehicleCommands,
)
from app.services.connections.backends import Backends
from app.services.connections.handoff import ConnectHandoff, HandoffClient
from app.services.connections.service import ConnectionService
from app.services.connections.token_cipher import NoTokenKey, TokenCipher
from app.services.field_tasks.demo import seed_demo_plans
from app.services.field_tasks.service import TaskService
from app.services.iot.runtime import IotHandle
from app.services.notifications.alert_feed import CHANGE_TABLE as ALERT_CHANGES
from app.services.notifications.alert_feed import AlertFeed
from app.services.notifications.dispatcher import NotificationDispatcher
from app.services.people import PeopleService
from app.services.rentals.service import RentalService
from app.services.retention import Retention
from app.services.telemetry.cron import TelemetryCron
from app.services.telemetry.reads import Exports, TelemetryReads
from app.services.telemetry.runtime import build_cron
from app.services.telemetry.vehicle_reads import SmartcarReader
from app.services.telemetry.writer import TelemetryWriter
from app.services.vehicles.demo_fleet import seed_if_empty
from app.services.vehicles.service import VehicleService
from app.services.webhooks.ingest import WebhookIngest
from app.services.webhooks.runtime import WebhookRuntime
from app.services.wiring.context import (
    AppContext,
    Mode,
    Role,
    choose_mode,
    database_url,
    runs_pollers,
)
from app.services.zones.demo import seed_demo_zones
from app.services.zones.service import ZoneService

logger = logging.getLogger(__name__)

#: Added to the command timeout for relayed commands: the collector's sweep and claim.
RELAY_MARGIN_S = 15.0
#: How long a shared console waits for the collector to link a car: its sweep, then a
#: few Smartcar calls (list or exchange, describe each car, link, subscribe).
HANDOFF_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class OpenedDatabase:
    """Step one: the migrated database and the mode its URL and the flags imply."""

    settings: Settings
    paths: AppPaths
    database: Database
    mode: Mode
    #: Who is signed in on a shared database, and their role (None in standalone modes).
    signed_in: SignedIn | None = None


#: How often a console asks for the password before it gives up (as psql does, once per
#: start; three tries forgive a typo without inviting guessing).
SIGN_IN_ATTEMPTS = 3


def open_database(
    settings: Settings,
    paths: AppPaths,
    *,
    db_url: str | None = None,
    review: bool = False,
    ask_password: Callable[[str, str], str | None] | None = None,
) -> OpenedDatabase:
    """Open and migrate the database, seed the demo fleet in demo mode.

    Raises DatabaseError with an operator-readable message when the database is unusable,
    including (shared mode) a wrong password and a cluster whose roles were never created.
    Where the server wants a password that ``~/.pgpass``, a service file or PGPASSWORD did
    not give, ``ask_password(login, problem)`` is asked (None: the person gave up); the
    password lives only in this process's memory, never in a log or a file.
    """
    url = database_url(settings, paths, db_url)
    attempts = 1
    while True:
        try:
            return _open(settings, paths, url, review)
        except SignInRefused as refused:
            if ask_password is None or attempts == SIGN_IN_ATTEMPTS:
                raise
            parsed = make_url(url)
            password = ask_password(parsed.username or "", str(refused))
            if password is None:
                raise
            url = parsed.set(password=password).render_as_string(hide_password=False)
            attempts += 1


def _open(settings: Settings, paths: AppPaths, url: str, review: bool) -> OpenedDatabase:
    mode = choose_mode(settings, url, review)
    database = Database(url, read_only=review)
    try:
        signed_in = database.check_access()
        database.migrate(paths.backup_dir)
        if mode is Mode.DEMO:
            added = seed_if_empty(VehicleService(database).repository, settings.demo)
            if added:
                logger.info("demo fleet of %d vehicles seeded", added)
                repository = VehicleService(database).repository
                seed_demo_plans(repository, TaskRepository(database), datetime.now(UTC))
            if zones := seed_demo_zones(ZoneService(database, settings).repository, settings.demo):
                logger.info("demo zones seeded: %d", zones)
    except Exception:
        database.close()
        raise
    logger.info("mode %s, database %s", mode.value, database.describe())
    if signed_in is not None:
        logger.info("signed in as %s (%s)", signed_in.login, signed_in.role)
    return OpenedDatabase(settings, paths, database, mode, signed_in)


def assemble(opened: OpenedDatabase, backends: Backends, *, role: Role) -> AppContext:
    """Step two: build every service once and connect who hears whom; start nothing."""
    settings, database, mode = opened.settings, opened.database, opened.mode
    demo = mode is Mode.DEMO
    vehicles = VehicleService(database)
    # A console on a shared database holds no token key: the collector keeps the tokens.
    shared_console = mode is Mode.SHARED and role is Role.CONSOLE
    connections = ConnectionService(
        database,
        vehicles,
        NoTokenKey() if shared_console else TokenCipher(opened.paths.data_dir),
        backends,
        connect_mode="simulated" if demo else "live",
        demo=demo,
        handoff=HandoffClient(database, timeout_s=HANDOFF_TIMEOUT_S) if shared_console else None,
    )
    writer = TelemetryWriter(database) if runs_pollers(mode, role) else None
    hooks = settings.smartcar.webhooks
    pushes = (
        writer is not None
        and backends.smartcar is not None
        and backends.smartcar.api_version == "3"
        and hooks.enabled
        and backends.management_token is not None
    )
    cron = None
    if writer is not None and backends.smartcar is not None:
        gap = hooks.gap_fill_after_min * 60.0 if pushes else None
        cron = build_cron(
            database, settings.telemetry, backends.smartcar, writer, connections, gap_fill_s=gap
        )
    webhooks = None
    if pushes:
        assert writer is not None
        webhooks = _webhooks(opened, backends, connections, writer, cron)
    iot = IotHandle(database, settings, writer, demo=demo)
    commands = _commands(opened, connections, writer, iot, role=role)
    zones = ZoneService(database, settings)
    # Who acts, in rentals, acknowledgements and tasks: the database login where there is
    # one (the database also holds every login to it, see roles.ALERT_ACKNOWLEDGER), else
    # the workstation's user@host.
    signed_in = opened.signed_in
    rentals = RentalService(
        database,
        settings,
        commands,
        reader=SmartcarReader(connections, writer),
        zones=zones,
        operator=signed_in.login if signed_in is not None else None,
    )
    alerts = AlertService(database, settings)
    people = PeopleService(database)
    tasks = TaskService(database, settings, who=rentals.operator, people=people)
    relay = publisher = handoff = None
    if role is Role.COLLECTOR and is_postgres(database.url):
        relay = CommandRelay(database, commands)
        handoff = ConnectHandoff(database, connections.carry_out)
        publisher = ChangePublisher(database.url)
        _publish_changes(publisher, writer, connections, alerts)
    if writer is not None:  # where the alert rules run (see workers): not on a shared
        # console, not in review. They hear about new telemetry, rentals that start or end
        # and holds set in Edit Vehicle, so a vehicle's status follows at once.
        writer.commits.subscribe(alerts.vehicles_changed)
        rentals.vehicle_changes.subscribe(alerts.vehicles_changed)
        vehicles.changes.subscribe(lambda vehicle_id: alerts.vehicles_changed((vehicle_id,)))
        # Zone presence follows the same commits; a vehicle that entered or left a zone is
        # evaluated again (outside the service area, parked in a no-parking zone).
        writer.commits.subscribe(zones.vehicles_changed)
        zones.presence_changes.subscribe(alerts.vehicles_changed)
        # The task rules run beside them; a rule on an alert (outside the service area ->
        # rebalance) sees it at the latest in the next sweep, after the alert is written.
        writer.commits.subscribe(tasks.vehicles_changed)
    notifications = alert_feed = None
    if writer is not None:  # beside the alert rules: the new alerts only queue there
        notifications = NotificationDispatcher(database, settings.notifications)
        alerts.raised.subscribe(notifications.alerts_raised)
    elif shared_console:  # the desktop of this workstation, fed what the collector raised
        notifications = NotificationDispatcher(database, settings.notifications, sends_email=False)
        alert_feed = AlertFeed(database, notifications.alerts_raised)
    return AppContext(
        settings=settings,
        paths=opened.paths,
        database=database,
        mode=mode,
        role=role,
        backends=backends,
        vehicles=vehicles,
        connections=connections,
        commands=commands,
        rentals=rentals,
        alerts=alerts,
        iot=iot,
        telemetry=TelemetryReads(database),
        exports=Exports(database),
        audit=AuditTrail(database),
        telemetry_writer=writer,
        telemetry_cron=cron,
        command_relay=relay,
        connect_handoff=handoff,
        publisher=publisher,
        webhooks=webhooks,
        retention=Retention(database, settings.retention) if writer is not None else None,
        access=Access(opened.signed_in, read_only=opened.mode is Mode.REVIEW),
        people=people,
        zones=zones,
        tasks=tasks,
        notifications=notifications,
        alert_feed=alert_feed,
    )


def open_context(
    settings: Settings,
    paths: AppPaths,
    *,
    db_url: str | None = None,
    review: bool = False,
    role: Role = Role.CONSOLE,
    backends: Backends | None = None,
) -> AppContext:
    """Both steps at once, with no Smartcar backend unless one is handed in."""
    opened = open_database(settings, paths, db_url=db_url, review=review)
    try:
        return assemble(opened, backends or Backends(), role=role)
    except Exception:
        opened.database.close()
        raise


def _webhooks(
    opened: OpenedDatabase,
    backends: Backends,
    connections: ConnectionService,
    writer: TelemetryWriter,
    cron: TelemetryCron | None,
) -> WebhookRuntime:
    """The receiver's ingest routes to connections, stores through the one writer, and
    tells the cron which cars just pushed (so they are not polled)."""
    ingest = WebhookIngest(
        opened.database,
        connections.repository,
        writer,
        changed=connections.changes.notify,
    )
    if cron is not None:
        ingest.deliveries.subscribe(cron.delivered)
    connections.changes.subscribe(ingest.connections_changed)
    return WebhookRuntime(
        opened.settings.smartcar.webhooks,
        backends,
        connections,
        opened.database,
        ingest,
        demo=opened.mode is Mode.DEMO,
    )


def _commands(
    opened: OpenedDatabase,
    connections: ConnectionService,
    writer: TelemetryWriter | None,
    iot: IotHandle,
    *,
    role: Role,
) -> VehicleCommands:
    """Who sends this process's lock and unlock: itself, or (a console on a shared
    database) the collector, which alone talks to the cars and devices there."""
    database = opened.database
    timeout_s = opened.settings.rentals.command_timeout_s
    iot_commands = IotCommands(database, lambda: iot.commands, timeout_s=timeout_s)
    if opened.mode is Mode.SHARED and role is Role.CONSOLE:
        # The latest stored report, which the collector keeps current, gives the lock state.
        return RelayedCommands(
            database, iot_commands.read_lock_status, timeout_s=timeout_s + RELAY_MARGIN_S
        )

    async def connection_type(vehicle_id: int) -> str | None:
        basics = await database.run(vehicle_basics, database, vehicle_id)
        return basics.connection_type if basics else None

    on_reading = None if writer is None else writer.submit
    smartcar = SmartcarCommands(database, connections, on_reading=on_reading)
    return RoutedCommands(connection_type, smartcar, iot_commands)


def _publish_changes(
    publisher: ChangePublisher,
    writer: TelemetryWriter | None,
    connections: ConnectionService,
    alerts: AlertService,
) -> None:
    """NOTIFY consoles after each commit of the telemetry writer, each connection change,
    each derived status (In use, Offline, ...) the alert rules write and the new alerts
    they stored (the consoles' desktop notifications, app.services.notifications.alert_feed)."""
    if writer is not None:
        writer.commits.subscribe(lambda ids: publisher.publish_vehicles("telemetry", ids))
    connections.changes.subscribe(
        lambda vehicle_id: publisher.publish_vehicles("smartcar_connection", {vehicle_id})
    )
    alerts.status_changes.subscribe(lambda ids: publisher.publish_vehicles("vehicle", set(ids)))
    alerts.raised.subscribe(
        lambda new: publisher.publish_vehicles(ALERT_CHANGES, {a.vehicle_id for a in new})
    )
