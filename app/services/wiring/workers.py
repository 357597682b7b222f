"""Which background workers run, in one place, for the console and the headless collector.

Demo and live consoles run their own pollers. In shared mode exactly one collector runs
them (see :mod:`app.services.wiring.collector`) and the consoles poll nothing: they
listen to the change feed, and run only their desktop notifications of the alerts the
collector raised. Review mode runs nothing at all. The bootstrap has built what
each role needs (a shared console has no telemetry writer, only the collector has a
command relay); :func:`start_workers` spawns the run of each of those under the
supervisor, so a new worker is added here once and runs wherever it should.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from app.services.connections.token_refresher import TokenRefresher
from app.services.rentals.service import RentalService
from app.services.tasks import TaskOwner
from app.services.wiring.context import AppContext

logger = logging.getLogger(__name__)

#: How often the rental sweep looks for check-ins past their expiry.
EXPIRY_SWEEP_S = 30.0


@dataclass
class Workers:
    """What :func:`start_workers` started (names as in ``TaskOwner.running``)."""

    names: list[str] = field(default_factory=list)


def start_workers(context: AppContext, tasks: TaskOwner) -> Workers:
    """Spawn the workers this process runs under ``tasks`` (none for a shared console or
    in review mode); they stop with ``tasks``."""
    writer = context.telemetry_writer
    if writer is None:  # built only where pollers run (context.runs_pollers)
        why = "read-only review" if context.read_only else "the collector polls"
        if context.notifications is not None and context.alert_feed is not None:
            # A shared console's desktop notifications of the collector's alerts (issue 19).
            tasks.spawn(context.notifications.run, "notifications", restart=True)
            tasks.spawn(context.alert_feed.run, "collector-alerts", restart=True)
            logger.info("%s: desktop notifications only (%s)", context.role.value, why)
            return Workers(tasks.running)
        logger.info("%s: no background workers (%s)", context.role.value, why)
        return Workers()
    if context.backends.smartcar_available:
        # Renews Smartcar access tokens before they expire (issue 4).
        refresher = TokenRefresher(context.connections)
        tasks.spawn(refresher.run_forever, "smartcar-token-refresher", restart=True)
    # The telemetry writer every source feeds, and the Smartcar poll cron (issue 5).
    tasks.spawn(writer.run, "telemetry-writer", restart=True, drain=writer.flush)
    if context.webhooks is not None:  # Smartcar V3 pushes (issue 16)
        tasks.spawn(context.webhooks.run, "smartcar-webhooks", restart=True)
    if context.telemetry_cron is not None:
        tasks.spawn(context.telemetry_cron.run, "telemetry-cron", restart=True)
    else:
        logger.info("telemetry cron not started: Smartcar is not available")
    # IoT gateway + ingest (+ device simulator in demo mode), issue 6.
    tasks.spawn(lambda: context.iot.serve(tasks), "iot-gateway", restart=True)
    # Alert evaluation with vehicle status, and the check-in expiry sweep (issue 7).
    tasks.spawn(context.alerts.run, "alerts", restart=True)
    if context.zones is not None:  # zone presence: enter and exit events (issue 19)
        tasks.spawn(context.zones.run, "zones", restart=True)
    if context.tasks is not None:  # the field task rules, beside the alert rules (issue #19)
        tasks.spawn(context.tasks.run, "task-rules", restart=True)
    if context.notifications is not None:  # e-mail and desktop messages of alerts (issue 19)
        tasks.spawn(context.notifications.run, "notifications", restart=True)
    rentals = context.rentals
    tasks.spawn(lambda: _expiry_sweep(rentals, EXPIRY_SWEEP_S), "rental-expiry", restart=True)
    if context.retention is not None:  # old zone events, notifications, connect requests
        tasks.spawn(context.retention.run, "retention", restart=True)
    if context.publisher is not None:  # the collector of a shared database (issue 8)
        tasks.spawn(context.publisher.run, "change-publisher", restart=True)
    if context.command_relay is not None:
        # Consoles on a shared database queue commands; the leader sends them (issue 8).
        tasks.spawn(context.command_relay.run, "command-relay", restart=True)
    if context.connect_handoff is not None:
        # Consoles hand over Connect and Disconnect; the leader does them (issue #18).
        tasks.spawn(context.connect_handoff.run, "connect-handoff", restart=True)
    started = Workers(tasks.running)
    logger.info("%s workers: %s", context.role.value, ", ".join(started.names))
    return started


async def _expiry_sweep(rentals: RentalService, interval_s: float) -> None:
    while True:
        try:
            expired = await rentals.expire_due()
            if expired:
                logger.info("check-in expired for rentals %s", expired)
        except Exception:
            logger.exception("check-in expiry sweep failed; will retry")
        await asyncio.sleep(interval_s)
