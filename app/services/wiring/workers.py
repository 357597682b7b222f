"""Which background workers run, in one place, for the console and the headless collector.

Demo and live consoles run their own pollers. In shared mode exactly one collector runs
them (see :mod:`app.services.wiring.collector`) and the consoles run none: they only listen to the
change feed. Review mode runs nothing at all. Both ``main.py`` and the collector call
:func:`start_workers`, so a new worker is added here once and runs wherever it should.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from app.services.commands.relay import start_command_relay
from app.services.tasks import TaskOwner
from app.services.wiring.change_feed import ChangePublisher, is_postgres
from app.services.wiring.context import AppContext, Mode

logger = logging.getLogger(__name__)


class Role(enum.StrEnum):
    CONSOLE = "console"
    COLLECTOR = "collector"


@dataclass
class Workers:
    """What :func:`start_workers` started (names as in ``TaskOwner.running``)."""

    names: list[str] = field(default_factory=list)
    publisher: ChangePublisher | None = None


def runs_pollers(context: AppContext, role: Role) -> bool:
    """False for review mode and for consoles on a shared database."""
    if context.read_only:
        return False
    return role is Role.COLLECTOR or context.mode is not Mode.SHARED


def start_workers(context: AppContext, tasks: TaskOwner, *, role: Role) -> Workers:
    """Spawn the workers this role runs in this mode under ``tasks``.

    Needs ``context.backends`` started. The collector additionally publishes every commit
    of its writers on the change feed, so consoles see them within a second.
    """
    if not runs_pollers(context, role):
        why = "read-only review" if context.read_only else "the collector polls"
        logger.info("%s: no background workers (%s)", role.value, why)
        return Workers()
    from app.services.connections.token_refresher import TokenRefresher
    from app.services.iot.runtime import serve_iot
    from app.services.telemetry.runtime import start_telemetry
    from app.services.wiring.operations import start_operations

    if context.backends.smartcar_available:
        # Renews Smartcar access tokens before they expire (issue 4).
        refresher = TokenRefresher(context.connections)
        tasks.spawn(refresher.run_forever, "smartcar-token-refresher", restart=True)
    # The telemetry writer, and the Smartcar poll cron when Smartcar is available (issue 5).
    start_telemetry(context, tasks)
    # IoT gateway + ingest (+ device simulator in demo mode), issue 6; sets context.iot.
    tasks.spawn(lambda: serve_iot(context, tasks), "iot-gateway", restart=True)
    # Alert evaluation on new telemetry and the check-in expiry sweep (issue 7).
    start_operations(context, tasks, executes_commands=role is Role.COLLECTOR)
    publisher = None
    if role is Role.COLLECTOR and is_postgres(context.database.url):
        publisher = start_change_publisher(context, tasks)
        # Consoles on a shared database queue commands; the leader sends them (issue 8).
        start_command_relay(context, tasks)
    started = Workers(tasks.running, publisher)
    logger.info("%s workers: %s", role.value, ", ".join(started.names))
    return started


def start_change_publisher(context: AppContext, tasks: TaskOwner) -> ChangePublisher:
    """NOTIFY consoles after each commit of the telemetry writer and each connection change."""
    publisher = ChangePublisher(context.database.url)
    writer = context.telemetry_writer
    if writer is not None:
        writer.add_observer(lambda ids: publisher.publish_vehicles("telemetry", ids))
    context.connections.listeners.append(
        lambda vehicle_id: publisher.publish_vehicles("smartcar_connection", {vehicle_id})
    )
    if context.operations is not None:  # derived statuses (In use, Offline, ...) it writes
        context.operations.alerts.status_listeners.append(
            lambda ids: publisher.publish_vehicles("vehicle", set(ids))
        )
    tasks.spawn(publisher.run, "change-publisher", restart=True)
    return publisher
