"""Lock / unlock any vehicle, audited, with the result read back: the rental flow's hands.

:class:`VehicleCommands` is the small interface the rental service (and any view) uses;
:class:`SmartcarCommands` implements it for Smartcar cars (SmartcarClient.lock/unlock
with a token from the connection service's TokenKeeper, then ``/security`` read back to
verify), :class:`IotCommands` for IoT vehicles through the IoT command service (which
audits and confirms by the device's next report), and :class:`RoutedCommands` picks one
by the vehicle's connection type.

Every Smartcar command leaves a ``command`` row (who = OS user and workstation, when,
vehicle, action, state, error) written BEFORE the request goes out, so even a command
that hangs leaves a trace of who asked.
"""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from app.integrations.smartcar.errors import SmartcarApiError, SmartcarError
from app.integrations.smartcar.models import LockStatus
from app.models.command_audit import CommandAudit, StateChange
from app.models.database import Database
from app.models.enums import CommandState, ConnectionType
from app.models.telemetry_queries import TelemetryQueries
from app.models.telemetry_reading import TelemetryReading
from app.services.connections.service import ConnectionService
from app.services.connections.tokens import ConnectionProblem
from app.services.iot.commands import IotCommandRefused, IotCommandService

logger = logging.getLogger(__name__)

SMARTCAR_CHANNEL = "smartcar"
_STORAGE_NAMES = {"rear": "trunk", "front": "frunk"}


def actor_identity() -> tuple[str, str]:
    """The OS user and workstation that issue commands, for the audit trail (never fails)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers, services)
        user = "unknown"
    return user, socket.gethostname() or "unknown"


@dataclass(frozen=True, slots=True)
class LockReading:
    """Lock state and the doors/lids reported open; ``locked`` None = not reported."""

    locked: bool | None
    open_doors: tuple[str, ...]
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What a lock/unlock achieved; ``error`` is the operator-facing reason when not ok."""

    ok: bool
    action: str
    error: str = ""
    lock: LockReading | None = None


class VehicleCommands(Protocol):
    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome: ...

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome: ...

    async def read_lock_status(self, vehicle_id: int) -> LockReading: ...


class CommandUnavailable(Exception):
    """The lock status cannot be read; ``str(exc)`` is for the operator."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SmartcarApiError):
        return f"Smartcar {exc.type}{':' + exc.code if exc.code else ''} — {exc.description}"
    return str(exc) or type(exc).__name__


def _from_status(status: LockStatus, at: datetime) -> LockReading:
    groups = (status.doors, status.windows, status.sunroof, status.charging_port)
    names = [o.type for group in groups for o in group if o.status == "OPEN"]
    names += [_STORAGE_NAMES.get(o.type, o.type) for o in status.storage if o.status == "OPEN"]
    return LockReading(status.is_locked, tuple(names), at)


class SmartcarCommands:
    """Smartcar lock/unlock: audit row, command, read-back of ``/security``.

    ``on_reading`` (e.g. TelemetryWriter.submit) receives the read-back as telemetry, so
    the fleet list and the alerts see the new lock state without waiting for a poll.
    """

    def __init__(
        self,
        database: Database,
        connections: ConnectionService,
        *,
        on_reading: Callable[[TelemetryReading], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._connections = connections
        self._audit = CommandAudit(database)
        self._on_reading = on_reading
        self._clock = clock
        self.actor_user, self.actor_host = actor_identity()

    async def _connection_id(self, vehicle_id: int) -> int:
        record = await self._connections.connection_for(vehicle_id)
        if record is None or not record.can_call:
            raise ConnectionProblem("This car is not connected to Smartcar.")
        return record.id

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        try:
            connection_id = await self._connection_id(vehicle_id)
            tokens = self._connections.tokens
            reading = await tokens.call(
                connection_id, lambda car, token: tokens.client().lock_status(car, token)
            )
        except (ConnectionProblem, SmartcarError) as exc:
            raise CommandUnavailable(_describe(exc)) from exc
        at = reading.meta.data_age or self._clock()
        result = _from_status(reading.value, at)
        if self._on_reading is not None:
            self._on_reading(_as_telemetry(vehicle_id, reading.value, at, self._clock()))
        return result

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "lock", reason)

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "unlock", reason)

    async def _command(self, vehicle_id: int, action: str, reason: str) -> CommandOutcome:
        audit_id = await self._db.run(
            lambda: self._audit.open(
                vehicle_id=vehicle_id,
                action=action,
                channel=SMARTCAR_CHANNEL,
                actor_user=self.actor_user,
                actor_host=self.actor_host,
                reason=reason,
                at=self._clock(),
            )
        )
        outcome = await self._send_and_verify(vehicle_id, action)
        state = "confirmed" if outcome.ok else "failed"
        change = StateChange(audit_id, state, outcome.error, self._clock())
        await self._db.run(self._audit.apply, [change])
        logger.info("vehicle %d %s via Smartcar: %s", vehicle_id, action, state)
        return outcome

    async def _send_and_verify(self, vehicle_id: int, action: str) -> CommandOutcome:
        try:
            connection_id = await self._connection_id(vehicle_id)
            tokens = self._connections.tokens
            send = tokens.client().lock if action == "lock" else tokens.client().unlock
            await tokens.call(connection_id, send)
            await self._db.run(
                self._connections.repository.mark_command, connection_id, self._clock()
            )
        except (ConnectionProblem, SmartcarError) as exc:
            return CommandOutcome(False, action, _describe(exc))
        try:
            lock = await self.read_lock_status(vehicle_id)
        except CommandUnavailable as exc:
            return CommandOutcome(False, action, f"sent, but the result could not be read: {exc}")
        if lock.locked is not (action == "lock"):
            shown = "locked" if lock.locked else "unlocked" if lock.locked is False else "unknown"
            return CommandOutcome(False, action, f"sent, but the car reports {shown}", lock)
        return CommandOutcome(True, action, "", lock)


def _as_telemetry(
    vehicle_id: int, status: LockStatus, at: datetime, received: datetime
) -> TelemetryReading:
    doors = {o.type: o.status for o in status.doors}
    doors.update({_STORAGE_NAMES.get(o.type, o.type): o.status for o in status.storage})
    return TelemetryReading(
        vehicle_id=vehicle_id,
        source="smartcar",
        recorded_at=min(at, received),
        received_at=received,
        locked=status.is_locked,
        doors=doors or None,
    )


class IotCommands:
    """IoT lock/unlock through the IoT command service (which writes the audit rows)."""

    def __init__(
        self,
        database: Database,
        service: Callable[[], IotCommandService | None],
        *,
        timeout_s: float = 30.0,
    ) -> None:
        self._service = service
        self._queries = TelemetryQueries(database)
        self._db = database
        self._timeout_s = timeout_s

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        """From the latest report: IoT devices push their state, there is nothing to ask."""
        latest = await self._db.run(self._queries.latest, vehicle_id)
        if latest is None:
            raise CommandUnavailable("the device has not reported yet")
        item = latest.values.get("locked")
        doors = latest.get("doors") or {}
        open_doors = tuple(sorted(n for n, v in doors.items() if v == "OPEN"))
        return LockReading(
            None if item is None else bool(item.value),
            open_doors,
            item.recorded_at if item else latest.recorded_at,
        )

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "lock", reason)

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "unlock", reason)

    async def _command(self, vehicle_id: int, action: str, reason: str) -> CommandOutcome:
        service = self._service()
        if service is None:
            return CommandOutcome(False, action, "the IoT gateway is not running")
        try:
            handle = await service.send(vehicle_id, action, reason=reason)
        except IotCommandRefused as exc:
            return CommandOutcome(False, action, str(exc))
        try:
            state = await handle.wait(CommandState.CONFIRMED, timeout=self._timeout_s)
        except TimeoutError:
            return CommandOutcome(False, action, f"no confirmation within {self._timeout_s:g} s")
        if state is not CommandState.CONFIRMED:
            detail = f": {handle.detail}" if handle.detail else ""
            return CommandOutcome(False, action, f"the device command {state}{detail}")
        return CommandOutcome(True, action, "", LockReading(action == "lock", ()))


class RoutedCommands:
    """Smartcar or IoT by the vehicle's connection type (looked up per call)."""

    def __init__(
        self,
        connection_type: Callable[[int], Awaitable[str | None]],
        smartcar: VehicleCommands,
        iot: VehicleCommands,
    ) -> None:
        self._type = connection_type
        self._smartcar = smartcar
        self._iot = iot

    async def _pick(self, vehicle_id: int) -> VehicleCommands:
        kind = await self._type(vehicle_id)
        if kind == ConnectionType.SMARTCAR.value:
            return self._smartcar
        if kind == ConnectionType.IOT.value:
            return self._iot
        raise CommandUnavailable("this vehicle has no connection the console can command")

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        try:
            target = await self._pick(vehicle_id)
        except CommandUnavailable as exc:
            return CommandOutcome(False, "lock", str(exc))
        return await target.lock(vehicle_id, reason=reason)

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        try:
            target = await self._pick(vehicle_id)
        except CommandUnavailable as exc:
            return CommandOutcome(False, "unlock", str(exc))
        return await target.unlock(vehicle_id, reason=reason)

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        return await (await self._pick(vehicle_id)).read_lock_status(vehicle_id)
