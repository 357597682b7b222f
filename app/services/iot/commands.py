"""Lock / Unlock / Locate for IoT vehicles, audited: the console side of gateway commands.

Deliberately small and IoT-only: a later issue builds one command service for cars and
scooters; this one turns an operator's click into a gateway command and keeps the
``command`` row (who, from which workstation, when, which vehicle, what, channel ``iot``)
in step with the gateway's lifecycle: queued -> sent -> acknowledged -> confirmed, or
failed / timed_out with the reason.

State changes arrive from the gateway's command listener on the event loop and are
written by :meth:`IotCommandService.run` (one task, in order, batched) on the database
thread, so the gateway never waits for the audit trail.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.commands import CommandHandle, CommandUpdate
from app.integrations.iot.gateway import IotGateway
from app.integrations.iot.mqtt.client import MqttDeviceClient
from app.integrations.iot.mqtt.profiles import BY_PROTOCOL
from app.integrations.iot.profiles import ProfileError, get_profile
from app.listeners import Listeners
from app.models.command_audit import CommandAudit, StateChange
from app.models.database import Database
from app.models.enums import CommandState
from app.services.iot.frame_log import FrameEntry
from app.services.iot.ingest import IotIngest

logger = logging.getLogger(__name__)

CHANNEL = "iot"
ACTIONS = ("lock", "unlock", "locate", "alarm")
_PROBE_ID = "000000000000000"


class IotCommandRefused(ValueError):
    """The command was not sent; the message tells the operator why."""


@dataclass(frozen=True, slots=True)
class IotCommandEvent:
    """A state change of one vehicle's command, for the views."""

    vehicle_id: int
    audit_id: int
    action: str
    state: CommandState
    detail: str


@cache
def codec_actions(protocol: str) -> tuple[str, ...]:
    """The actions the ``protocol`` codec (or MQTT profile) can encode, probed once."""
    mqtt = BY_PROTOCOL.get(protocol)
    if mqtt is not None:
        return tuple(a for a in ACTIONS if a in mqtt.actions)
    try:
        codec = get_codec(protocol)
    except KeyError:
        return ()
    supported = []
    for action in ACTIONS:
        try:
            codec.encode_command(_PROBE_ID, action)
        except ValueError:
            continue
        supported.append(action)
    return tuple(supported)


def _actor() -> tuple[str, str]:
    """The OS user and workstation, for the audit trail (never fails)."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in this environment (containers, services)
        user = "unknown"
    return user, socket.gethostname() or "unknown"


class IotCommandService:
    """Sends IoT commands and audits them; ``run`` must be spawned once.

    Commands of MQTT devices go to ``mqtt`` (which shares the gateway's command tracker,
    so their lifecycle is heard here the same way); all others to the gateway.
    """

    def __init__(
        self,
        database: Database,
        gateway: IotGateway,
        ingest: IotIngest,
        mqtt: MqttDeviceClient | None = None,
    ) -> None:
        self._gateway = gateway
        self._mqtt = mqtt
        self._ingest = ingest
        self._audit = CommandAudit(database)
        self._db = database
        self.actor_user, self.actor_host = _actor()
        self._audit_ids: dict[int, tuple[int, int]] = {}  # gateway id -> (audit id, vehicle)
        self._changes: asyncio.Queue[StateChange] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        #: Hear every state change of an audited command.
        self.events: Listeners[[IotCommandEvent]] = Listeners("IoT command events")
        self.latest: dict[int, CommandHandle] = {}  # vehicle id -> its latest command
        self._remove = gateway.commands.changes.subscribe(self._on_update)

    def allowed_actions(self, vehicle_id: int) -> tuple[str, ...]:
        """What this vehicle's device can be told: its vendor's commands its codec encodes."""
        device = self._ingest.device_for_vehicle(vehicle_id)
        if device is None or not device.protocol:
            return ()
        actions = codec_actions(device.protocol)
        try:
            offered = get_profile(device.vendor).supported_commands
        except ProfileError:
            return actions
        return tuple(a for a in actions if a in offered)

    async def send(self, vehicle_id: int, action: str, *, reason: str = "") -> CommandHandle:
        """Audit and send ``action``; IotCommandRefused when this device cannot do it."""
        device = self._ingest.device_for_vehicle(vehicle_id)
        if device is None:
            raise IotCommandRefused("this vehicle has no registered IoT device")
        allowed = self.allowed_actions(vehicle_id)
        if action not in allowed:
            what = f"{device.vendor} {device.protocol}".strip() or "its"
            offer = ", ".join(allowed) or "no remote commands"
            raise IotCommandRefused(f"the {what} device cannot '{action}'; it supports: {offer}")
        audit_id = await self._db.run(
            self._audit_open, vehicle_id, action, reason, datetime.now(UTC)
        )
        if self._mqtt is not None and self._mqtt.handles(device.protocol):
            handle = await self._mqtt.send_command(
                device.device_id, action, protocol=device.protocol
            )
        else:
            handle = await self._gateway.send_command(
                device.device_id, action, protocol=device.protocol
            )
        self._audit_ids[handle.command_id] = (audit_id, vehicle_id)
        self.latest[vehicle_id] = handle
        for update in handle.history:  # changes made while send_command ran
            self._on_update(update)
        return handle

    def _audit_open(self, vehicle_id: int, action: str, reason: str, at: datetime) -> int:
        return self._audit.open(
            vehicle_id=vehicle_id,
            action=action,
            channel=CHANNEL,
            actor_user=self.actor_user,
            actor_host=self.actor_host,
            reason=reason,
            at=at,
        )

    def _on_update(self, update: CommandUpdate) -> None:
        known = self._audit_ids.get(update.command_id)
        if known is None:
            return  # not ours (or not registered yet: replayed from the handle's history)
        audit_id, vehicle_id = known
        failed = update.state in (CommandState.FAILED, CommandState.TIMED_OUT)
        self._changes.put_nowait(
            StateChange(audit_id, str(update.state), update.detail if failed else "", update.at)
        )
        self._idle.clear()
        self._ingest.frames.add(update.device_id, _command_note(update))
        event = IotCommandEvent(vehicle_id, audit_id, update.action, update.state, update.detail)
        self.events.notify(event)
        if update.state in (CommandState.CONFIRMED, CommandState.FAILED, CommandState.TIMED_OUT):
            self._audit_ids.pop(update.command_id, None)

    async def run(self) -> None:
        """Write audit state changes in order, batching whatever queued up meanwhile."""
        while True:
            batch = [await self._changes.get()]
            while not self._changes.empty():
                batch.append(self._changes.get_nowait())
            try:
                await self._db.run(self._audit.apply, batch)
            except Exception:
                logger.exception("command audit update of %d changes failed", len(batch))
            if self._changes.empty():
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every audit change so far is written (tests, shutdown)."""
        await self._idle.wait()

    def close(self) -> None:
        self._remove()


def _command_note(update: CommandUpdate) -> FrameEntry:
    detail = f": {update.detail}" if update.detail else ""
    return FrameEntry(update.at, "out", f"command {update.action}", f"{update.state}{detail}")
