"""Rentals, alerts and remote commands of one console, built from its AppContext.

``operations(context)`` builds them once (views call it; nothing starts running);
``start_operations(context, tasks)`` also feeds the alert and status rules from the
telemetry writer, the rentals and vehicle edits, and spawns the two sweeps (alerts with
vehicle status, check-in expiry). Both read the late-bound parts
(telemetry writer, IoT runtime) on use, since main.py starts those after the context.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from app.models.rentals import vehicle_basics
from app.models.telemetry_reading import TelemetryReading
from app.services.alerts.service import AlertService
from app.services.commands.relayed import RelayedCommands
from app.services.commands.senders import (
    IotCommands,
    RoutedCommands,
    SmartcarCommands,
    VehicleCommands,
)
from app.services.rentals.service import RentalService
from app.services.tasks import TaskOwner
from app.services.telemetry.vehicle_reads import SmartcarReader
from app.services.wiring.context import AppContext, Mode

logger = logging.getLogger(__name__)


@dataclass
class Operations:
    rentals: RentalService
    alerts: AlertService


#: Added to the command timeout for relayed commands: the collector's sweep and claim.
RELAY_MARGIN_S = 15.0


def operations(context: AppContext, *, executes_commands: bool = False) -> Operations:
    """The console's rental and alert services (built on first use, then cached).

    On a shared database a console relays its commands to the collector; only the
    collector (``executes_commands=True``, the first to build them in its process) sends
    them to the vehicles.
    """
    if context.operations is not None:
        return context.operations
    db = context.database

    def submit(reading: TelemetryReading) -> None:
        if context.telemetry_writer is not None:
            context.telemetry_writer.submit(reading)

    async def connection_type(vehicle_id: int) -> str | None:
        basics = await db.run(vehicle_basics, db, vehicle_id)
        return basics.connection_type if basics else None

    timeout_s = context.settings.rentals.command_timeout_s
    iot = IotCommands(
        db, lambda: context.iot.commands if context.iot else None, timeout_s=timeout_s
    )
    commands: VehicleCommands
    if context.mode is Mode.SHARED and not executes_commands:
        # The latest stored report, which the collector keeps current, gives the lock state.
        commands = RelayedCommands(db, iot.read_lock_status, timeout_s=timeout_s + RELAY_MARGIN_S)
    else:
        commands = RoutedCommands(
            connection_type, SmartcarCommands(db, context.connections, on_reading=submit), iot
        )
    reader = SmartcarReader(context.connections, lambda: context.telemetry_writer)
    rentals = RentalService(db, context.settings, commands, reader=reader)
    context.operations = Operations(rentals, AlertService(db, context.settings))
    return context.operations


async def _expiry_sweep(rentals: RentalService, interval_s: float) -> None:
    while True:
        try:
            expired = await rentals.expire_due()
            if expired:
                logger.info("check-in expired for rentals %s", expired)
        except Exception:
            logger.exception("check-in expiry sweep failed; will retry")
        await asyncio.sleep(interval_s)


def start_operations(
    context: AppContext, tasks: TaskOwner, *, executes_commands: bool = False
) -> Operations:
    """Build, feed alerts from the telemetry writer, spawn the sweeps (not in review mode)."""
    ops = operations(context, executes_commands=executes_commands)
    if context.read_only:
        return ops
    if context.telemetry_writer is not None:
        context.telemetry_writer.add_observer(ops.alerts.vehicles_changed)
    # A rental that starts or ends, or a hold set in Edit Vehicle, changes the status now.
    ops.rentals.vehicle_listeners.append(ops.alerts.vehicles_changed)
    context.vehicles.listeners.append(lambda vehicle_id: ops.alerts.vehicles_changed((vehicle_id,)))
    tasks.spawn(ops.alerts.run, "alerts", restart=True)
    tasks.spawn(lambda: _expiry_sweep(ops.rentals, 30.0), "rental-expiry", restart=True)
    return ops
