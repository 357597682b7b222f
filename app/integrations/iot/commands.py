"""Device commands and their lifecycle: queued -> sent -> acknowledged -> confirmed.

Lock/unlock in micromobility must be first-class: an operator needs to see whether the
command reached the device, whether the device answered it, and whether the vehicle's
next status report actually shows the requested lock state. Commands for offline devices
wait in a queue and go out when the device connects again. Every state change is pushed
to listeners so the lead can persist and display it.

Correlation: devices do not echo which command they answer (Traccar does not correlate
either), so a command result acknowledges the oldest command sent to that device.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.integrations.iot.records import DeviceRecord, LockState, RecordKind
from app.listeners import Listeners
from app.models.enums import CommandState

logger = logging.getLogger(__name__)


FINAL_STATES = frozenset({CommandState.CONFIRMED, CommandState.FAILED, CommandState.TIMED_OUT})

# The lock state a status report must show before a command counts as confirmed; actions
# without an entry are confirmed by the device's answer alone.
EXPECTED_LOCK: dict[str, LockState] = {"lock": LockState.LOCKED, "unlock": LockState.UNLOCKED}


@dataclass(frozen=True, slots=True)
class CommandTimeouts:
    """Seconds a command may stay in each non-final state before it times out."""

    queued: float = 24 * 3600.0
    sent: float = 30.0
    acknowledged: float = 60.0


@dataclass(frozen=True, slots=True)
class CommandUpdate:
    """One state change, as published to listeners (safe to persist as-is)."""

    command_id: int
    device_id: str
    protocol: str
    action: str
    state: CommandState
    at: datetime
    detail: str = ""


class CommandHandle:
    """The caller's view of one command; ``wait`` resolves when a state is reached."""

    def __init__(self, command_id: int, device_id: str, protocol: str, action: str):
        self.command_id = command_id
        self.device_id = device_id
        self.protocol = protocol
        self.action = action
        self.state = CommandState.QUEUED
        self.detail = ""
        self.history: list[CommandUpdate] = []
        self._changed = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<Command {self.command_id} {self.action} -> {self.device_id}: {self.state}>"

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    async def wait(self, *states: CommandState, timeout: float | None = None) -> CommandState:
        """Wait until the command is in one of ``states`` (default: any final state).

        Returns the state reached; a final state that is not among ``states`` also ends
        the wait, so callers never hang on a command that failed.
        """
        wanted = set(states) or FINAL_STATES

        async def _wait() -> CommandState:
            while self.state not in wanted and not self.done:
                self._changed.clear()
                await self._changed.wait()
            return self.state

        return await asyncio.wait_for(_wait(), timeout)


class CommandTracker:
    """Queues, state machine and timeouts of all commands of one gateway.

    ``send`` is called by the tracker when a device is online: it gets the handle and
    returns False if the bytes could not be written (the command then stays queued).
    """

    def __init__(self, timeouts: CommandTimeouts | None = None):
        self.timeouts = timeouts or CommandTimeouts()
        self._ids = itertools.count(1)
        self._queued: dict[str, deque[CommandHandle]] = {}
        self._inflight: dict[str, deque[CommandHandle]] = {}
        #: Hear every state change of every command.
        self.changes: Listeners[[CommandUpdate]] = Listeners("device commands")

    def create(self, device_id: str, protocol: str, action: str) -> CommandHandle:
        handle = CommandHandle(next(self._ids), device_id, protocol, action)
        self._queued.setdefault(device_id, deque()).append(handle)
        self._transition(handle, CommandState.QUEUED, "waiting for the device")
        return handle

    def pending(self, device_id: str) -> list[CommandHandle]:
        """Commands still queued for ``device_id``, oldest first."""
        return list(self._queued.get(device_id, ()))

    def flush(self, device_id: str, send: Callable[[CommandHandle], bool]) -> None:
        """Send every queued command of a device that just came (or is) online."""
        queue = self._queued.get(device_id)
        while queue:
            handle = queue[0]
            try:
                written = send(handle)
            except ValueError as exc:  # the codec cannot encode this action
                queue.popleft()
                self._transition(handle, CommandState.FAILED, str(exc))
                continue
            if not written:
                return
            queue.popleft()
            self._inflight.setdefault(device_id, deque()).append(handle)
            self._transition(handle, CommandState.SENT, "written to the connection")
        self._queued.pop(device_id, None)

    def observe(self, record: DeviceRecord) -> None:
        """Advance commands of the record's device: answers acknowledge, reports confirm."""
        device_id = record.device_id
        inflight = self._inflight.get(device_id or "")
        if not inflight:
            return
        if record.kind is RecordKind.COMMAND_RESULT:
            for handle in inflight:
                if handle.state is CommandState.SENT:
                    self._on_result(handle, record)
                    break
        if record.lock_state is not LockState.UNKNOWN:
            for handle in list(inflight):
                if EXPECTED_LOCK.get(handle.action) is record.lock_state:
                    self._transition(
                        handle, CommandState.CONFIRMED, f"reported {record.lock_state}"
                    )
        self._prune(device_id or "")

    def _on_result(self, handle: CommandHandle, record: DeviceRecord) -> None:
        text = record.command_result or ""
        if record.attributes.get("success") is False:
            self._transition(handle, CommandState.FAILED, f"device refused: {text}".strip())
            return
        self._transition(handle, CommandState.ACKNOWLEDGED, text)
        if handle.action not in EXPECTED_LOCK:
            self._transition(handle, CommandState.CONFIRMED, "answer is the confirmation")

    def _prune(self, device_id: str) -> None:
        inflight = self._inflight.get(device_id)
        if inflight is None:
            return
        live = deque(h for h in inflight if not h.done)
        if live:
            self._inflight[device_id] = live
        else:
            del self._inflight[device_id]

    def _transition(self, handle: CommandHandle, state: CommandState, detail: str) -> None:
        if handle.done:
            return
        handle.state, handle.detail = state, detail
        if handle._timer is not None:
            handle._timer.cancel()
            handle._timer = None
        if not handle.done:
            limit = {
                CommandState.QUEUED: self.timeouts.queued,
                CommandState.SENT: self.timeouts.sent,
                CommandState.ACKNOWLEDGED: self.timeouts.acknowledged,
            }[state]
            handle._timer = asyncio.get_running_loop().call_later(
                limit, self._expire, handle, state
            )
        update = CommandUpdate(
            handle.command_id,
            handle.device_id,
            handle.protocol,
            handle.action,
            state,
            datetime.now(UTC),
            detail,
        )
        handle.history.append(update)
        handle._changed.set()
        self.changes.notify(update)

    def _expire(self, handle: CommandHandle, state: CommandState) -> None:
        if handle.state is not state:
            return
        queue = self._queued.get(handle.device_id)
        if queue and handle in queue:
            queue.remove(handle)
            if not queue:
                del self._queued[handle.device_id]
        self._transition(handle, CommandState.TIMED_OUT, f"no progress while {state}")
        self._prune(handle.device_id)

    def cancel_all(self) -> None:
        """Stop all timers (gateway shutdown); states stay as they are."""
        for handles in (*self._queued.values(), *self._inflight.values()):
            for handle in handles:
                if handle._timer is not None:
                    handle._timer.cancel()
                    handle._timer = None
