"""Lock / unlock from a console on a shared database: ask the collector, await its answer.

On a shared PostgreSQL database only the leading collector talks to Smartcar and to the
IoT devices (see :mod:`app.services.commands.collector_relay`), so a console's
:class:`RelayedCommands` never sends anything itself: it queues a request row
(``queue_command``) and waits for the collector's
:class:`~app.services.commands.collector_relay.CommandRelay` to move it to ``confirmed`` or
``failed``.

The wait polls the request row on the database thread every ``poll_s`` seconds rather
than listening on the change feed: the row is the truth, a poll cannot miss an outcome
the way a notification lost during a reconnect can, and no extra connection or listener
task has to be owned and stopped. Half a second of latency is nothing next to a command's
round trip to a car.

A request nobody answers must not stay ``queued`` (a collector coming back an hour later
would otherwise unlock the car then): at the timeout the console marks it ``timed_out``
itself, under a row lock so it cannot race the relay claiming it. A request the relay had
already claimed (``sent``) is marked too, with "outcome unknown"; if the relay finishes
later it overwrites that with the real outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from app.models.database import Database
from app.models.enums import CommandState
from app.models.orm import Command
from app.services.commands.collector_relay import queue_command, set_state
from app.services.commands.senders import CommandOutcome, LockReading, actor_identity

logger = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.5
_FINAL = frozenset(
    {CommandState.CONFIRMED.value, CommandState.FAILED.value, CommandState.TIMED_OUT.value}
)
Clock = Callable[[], datetime]


def request_state(database: Database, command_id: int) -> tuple[str, str] | None:
    """(state, error) of a request, or None if the row is gone (blocking)."""
    with database.session() as session:
        row = session.get(Command, command_id)
        return None if row is None else (row.state, row.error)


def give_up(database: Database, command_id: int, timeout_s: float, at: datetime) -> tuple[str, str]:
    """Mark an unanswered request ``timed_out`` unless it just finished; returns the final
    (state, error). The row lock waits for a relay claiming it at this very moment, so a
    ``queued`` request seen here is certain never to be sent."""
    with database.session() as session:
        row = session.get(Command, command_id, with_for_update=True)
        if row is None:
            return CommandState.FAILED.value, "the request disappeared from the database"
        if row.state in _FINAL:
            return row.state, row.error
        if row.state == CommandState.QUEUED.value:
            why = f"timed out: the collector did not take it within {timeout_s:g} s; not sent"
        else:
            why = (
                f"timed out: no outcome from the collector within {timeout_s:g} s; "
                "it may still have been sent, check the vehicle"
            )
        set_state(session, row, CommandState.TIMED_OUT.value, why, at)
        return row.state, why


class RelayedCommands:
    """The VehicleCommands of a shared-mode console: queue, then await the collector."""

    def __init__(
        self,
        database: Database,
        read_lock_status: Callable[[int], Awaitable[LockReading]],
        *,
        timeout_s: float,
        poll_s: float = DEFAULT_POLL_S,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        """``read_lock_status`` reads what the collector last stored (the console asks no
        vehicle anything itself); ``timeout_s`` should cover the collector's sweep plus
        its own command timeout."""
        self._db = database
        self._read_lock_status = read_lock_status
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._clock = clock
        self.actor_user, self.actor_host = actor_identity()

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "lock", reason)

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        return await self._command(vehicle_id, "unlock", reason)

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        return await self._read_lock_status(vehicle_id)

    async def _command(self, vehicle_id: int, action: str, reason: str) -> CommandOutcome:
        command_id = await self._db.run(
            lambda: queue_command(
                self._db,
                vehicle_id,
                action,
                actor_user=self.actor_user,
                actor_host=self.actor_host,
                reason=reason,
                at=self._clock(),
            )
        )
        logger.info(
            "vehicle %d %s: request #%d queued for the collector", vehicle_id, action, command_id
        )
        try:
            state, error = await asyncio.wait_for(self._outcome(command_id), self._timeout_s)
        except TimeoutError:
            state, error = await self._db.run(
                give_up, self._db, command_id, self._timeout_s, self._clock()
            )
        logger.info("vehicle %d %s: request #%d %s", vehicle_id, action, command_id, state)
        if state == CommandState.CONFIRMED.value:
            return CommandOutcome(True, action, "", LockReading(action == "lock", ()))
        return CommandOutcome(False, action, error or f"the collector reported {state}")

    async def _outcome(self, command_id: int) -> tuple[str, str]:
        while True:
            found = await self._db.run(request_state, self._db, command_id)
            if found is None:
                return CommandState.FAILED.value, "the request disappeared from the database"
            if found[0] in _FINAL:
                return found
            await asyncio.sleep(self._poll_s)
