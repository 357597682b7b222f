"""Remote commands of shared mode: consoles queue them, the collector sends them.

On a shared database only the leading collector holds the Smartcar tokens' refresh duty
and the IoT gateway's device connections, so consoles must not command vehicles
themselves. A console writes a request: a ``command`` row with channel ``relay`` and state
``queued`` (:func:`queue_command`), and NOTIFYs ``fleet_changes`` in the same transaction
(delivered only if the row commits). The collector's :class:`CommandRelay` LISTENs for
that, and also sweeps every ``sweep_s`` seconds, because a notification sent while it was
reconnecting or before it became leader is lost. It claims a request (``sent``, row
locked with SKIP LOCKED so two relays never take the same one), executes it through the
normal command path (``RoutedCommands``: Smartcar or the IoT gateway, which writes its
own execution row naming the collector and the request), then sets the request to
``confirmed`` or ``failed`` with the reason and NOTIFYs the outcome, which the asking
console sees on its change feed (``Change("command", vehicle_id, command_id, state)``).

Who asked: on PostgreSQL the ``requester`` column is the database login that inserted the
request, written by a trigger (app/models/roles.py), so a console cannot name someone
else. Before executing, the relay asks the catalog whether that login may send commands
now (a dispatcher or above, still allowed to sign in, not expired); a refused request is
failed with the reason, never sent. The execution row names that login.

Safety: a request older than ``max_age_s`` when the collector first sees it is failed,
not executed (unlocking a car an hour after someone asked is worse than not doing it),
and requests left in ``sent`` by a collector that died mid-command are failed at start
with "outcome unknown" instead of being sent a second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.command_audit import new_command
from app.models.database import Database
from app.models.enums import CommandState
from app.models.orm import Command
from app.models.roles import command_refusal
from app.services.change_feed import Change, notify_in, sweep_on_notice
from app.services.commands.senders import CommandOutcome, VehicleCommands

logger = logging.getLogger(__name__)

RELAY_CHANNEL = "relay"
ACTIONS = frozenset({"lock", "unlock"})
DEFAULT_SWEEP_S = 3.0
DEFAULT_MAX_AGE_S = 120.0
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Request:
    """A console's queued command, as the collector claimed it."""

    id: int
    vehicle_id: int
    action: str
    reason: str
    actor_user: str
    actor_host: str
    #: The database login that queued it (None on SQLite, which is single-user).
    requester: str | None = None

    def who(self) -> str:
        """The signed-in person, then what their workstation said about itself."""
        typed = f"{self.actor_user}@{self.actor_host}"
        return typed if self.requester is None else f"{self.requester} ({typed})"


def queue_command(
    database: Database,
    vehicle_id: int,
    action: str,
    *,
    actor_user: str,
    actor_host: str,
    reason: str = "",
    at: datetime | None = None,
) -> int:
    """The console side (blocking): queue a request for the collector; returns its id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown command {action!r}; one of {sorted(ACTIONS)}")
    at = at or datetime.now(UTC)
    with database.session() as session:
        row = new_command(
            vehicle_id=vehicle_id,
            action=action,
            channel=RELAY_CHANNEL,
            actor_user=actor_user,
            actor_host=actor_host,
            reason=reason,
            at=at,
        )
        session.add(row)
        session.flush()
        notify_in(session, Change("command", vehicle_id, row.id, row.state))
        return row.id


def set_state(session: Session, row: Command, state: str, error: str, at: datetime) -> None:
    """Move a request to ``state`` and NOTIFY it (both commit with the caller's session)."""
    row.state = state
    row.error = error
    row.updated_at = at
    notify_in(session, Change("command", row.vehicle_id, row.id, state))


def abandon_in_flight(database: Database, at: datetime) -> list[int]:
    """Fail requests a previous collector claimed but never finished (blocking)."""
    with database.session() as session:
        rows = session.scalars(
            select(Command).where(
                Command.channel == RELAY_CHANNEL, Command.state == CommandState.SENT.value
            )
        ).all()
        for row in rows:
            why = "outcome unknown: the collector stopped while sending; check the vehicle"
            set_state(session, row, CommandState.FAILED.value, why, at)
        return [row.id for row in rows]


def claim_next(database: Database, at: datetime, max_age: timedelta) -> Request | None:
    """Take the oldest queued request (blocking); stale ones on the way are failed."""
    while True:
        with database.session() as session:
            row = session.scalars(
                select(Command)
                .where(Command.channel == RELAY_CHANNEL, Command.state == CommandState.QUEUED.value)
                .order_by(Command.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            created = (
                row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            )
            if at - created > max_age:
                why = f"expired: not sent within {max_age.total_seconds():.0f} s of the request"
                set_state(session, row, CommandState.FAILED.value, why, at)
                logger.warning("command request %d expired unsent", row.id)
                continue
            if row.action not in ACTIONS:
                set_state(
                    session, row, CommandState.FAILED.value, f"unknown command {row.action!r}", at
                )
                continue
            if session.get_bind().dialect.name == "postgresql":
                refusal = command_refusal(session.connection(), row.requester)
                if refusal is not None:
                    set_state(session, row, CommandState.FAILED.value, refusal, at)
                    logger.warning("command request %d refused: %s", row.id, refusal)
                    continue
            set_state(session, row, CommandState.SENT.value, "", at)
            return Request(
                row.id,
                row.vehicle_id,
                row.action,
                row.reason,
                row.actor_user,
                row.actor_host,
                row.requester,
            )


def finish(database: Database, request_id: int, outcome: CommandOutcome, at: datetime) -> str:
    """Record the outcome on the request (blocking); returns the final state."""
    state = CommandState.CONFIRMED.value if outcome.ok else CommandState.FAILED.value
    with database.session() as session:
        row = session.get(Command, request_id)
        if row is not None:
            set_state(session, row, state, outcome.error, at)
    return state


class CommandRelay:
    """The collector side: ``await run()`` (spawn it once, on the leader)."""

    def __init__(
        self,
        database: Database,
        commands: VehicleCommands,
        *,
        sweep_s: float = DEFAULT_SWEEP_S,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._commands = commands
        self._sweep_s = sweep_s
        self._max_age = timedelta(seconds=max_age_s)
        self._clock = clock
        self.done: deque[tuple[int, str]] = deque(maxlen=100)  # (request id, final state)

    async def run(self) -> None:
        abandoned = await self._db.run(abandon_in_flight, self._db, self._clock())
        if abandoned:
            logger.warning("command relay: requests %s were in flight at a stop; failed", abandoned)
        await sweep_on_notice(
            None if self._db.is_sqlite else self._db.url,
            lambda c: c.table == "command" and c.state == CommandState.QUEUED.value,
            self.sweep,
            self._sweep_s,
            "command relay",
        )

    async def sweep(self) -> int:
        """Execute every queued request, oldest first; returns how many were executed."""
        executed = 0
        while True:
            request = await self._db.run(claim_next, self._db, self._clock(), self._max_age)
            if request is None:
                return executed
            await self._execute(request)
            executed += 1

    async def _execute(self, request: Request) -> None:
        reason = f"request #{request.id} of {request.who()}"
        if request.reason:
            reason += f": {request.reason}"
        send = self._commands.lock if request.action == "lock" else self._commands.unlock
        try:
            outcome = await send(request.vehicle_id, reason=reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug below must not leave the request 'sent' forever
            logger.exception("command relay: request %d crashed", request.id)
            outcome = CommandOutcome(False, request.action, f"internal error: {exc}")
        state = await self._db.run(finish, self._db, request.id, outcome, self._clock())
        self.done.append((request.id, state))
        logger.info(
            "command relay: %s of vehicle %d for %s: %s%s",
            request.action,
            request.vehicle_id,
            request.who(),
            state,
            f" ({outcome.error})" if outcome.error else "",
        )
