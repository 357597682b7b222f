"""Connect and Disconnect from a console on a shared database: the collector does them.

A console on a shared PostgreSQL database holds no Smartcar client secret, no token and
no token key (issue #18): whoever has a workstation's credentials must not be able to
read or decrypt a customer's grant. So the console runs Connect in its web view as in
standalone mode, and checks the OAuth ``state`` of the redirect itself, but what the
redirect carries (V3: the Smartcar user id; v2.0: the one-time authorization code) goes
into a ``connect_request`` row (:func:`queue_request`), NOTIFYing ``fleet_changes`` in the
same transaction. Disconnect is a request too.

The collector's :class:`ConnectHandoff` LISTENs for that and sweeps every ``sweep_s``
seconds (a notification can be lost while it reconnects or before it leads), claims a
request with SKIP LOCKED, checks the requester's role from the catalog (a dispatcher or
above, still allowed to sign in: :func:`app.models.roles.command_refusal`, the command
relay's check), then does what a standalone console's Connect does: V3 lists the user's
connections with the application token, links and subscribes the webhook; v2.0 exchanges
the code and stores the encrypted pair. The request ends ``linked`` / ``disconnected`` or
``failed`` with the reason; the code is cleared once used.

Who asked is the ``requester`` column, written by a trigger from ``session_user``
(app/models/roles.py), never by the client. A person's role may insert requests, and time
out their own queued one; everything else is the collector's.

The console waits by reading the row every ``poll_s`` seconds, like the relayed commands
(:mod:`app.services.commands.console_requests`): the row is the truth, and a poll cannot
miss an outcome the way a notification lost in a reconnect can. Unanswered at the timeout,
the console marks its request ``timed_out`` (row lock: it cannot race a claim), so a
collector coming back later never links or disconnects a car nobody waits for.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.database import Database
from app.models.errors import PermissionRefused
from app.models.orm import ConnectRequest
from app.models.roles import command_refusal
from app.services.change_feed import Change, notify_in, sweep_on_notice

logger = logging.getLogger(__name__)

CONNECT = "connect"
DISCONNECT = "disconnect"
QUEUED = "queued"
WORKING = "working"
LINKED = "linked"
DISCONNECTED = "disconnected"
FAILED = "failed"
TIMED_OUT = "timed_out"
FINAL = frozenset({LINKED, DISCONNECTED, FAILED, TIMED_OUT})
TABLE = "connect_request"
DEFAULT_SWEEP_S = 3.0
#: Older than this when the collector first sees it: failed, not done. A v2.0 code is
#: dead after ten minutes anyway, and the operator stopped waiting long before.
DEFAULT_MAX_AGE_S = 300.0
DEFAULT_POLL_S = 0.5
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended: ``state`` is one of :data:`FINAL`."""

    state: str
    error: str = ""
    connection_id: int | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A request as the collector claimed it (``code`` only for a v2.0 connect)."""

    id: int
    vehicle_id: int
    action: str
    api_version: str
    user_id: str | None
    code: str | None
    connection_id: int | None
    requester: str | None


def _notify(session: Session, row: ConnectRequest) -> None:
    notify_in(session, Change(TABLE, row.vehicle_id, row.id, row.state))


def _set(
    session: Session, row: ConnectRequest, outcome: Outcome, at: datetime, *, collector: bool
) -> None:
    """Record ``outcome``; the collector also clears a final request's code (single-use,
    nobody needs it any more). A console may not touch that column; the code of a request
    it timed out dies unused within Smartcar's ten minutes."""
    row.state, row.error, row.updated_at = outcome.state, outcome.error, at
    if outcome.connection_id is not None:
        row.connection_id = outcome.connection_id
    if collector and outcome.state in FINAL:
        row.code = None
    _notify(session, row)


# -- the console's side ------------------------------------------------------------------


def queue_request(
    database: Database,
    vehicle_id: int,
    action: str,
    *,
    api_version: str,
    at: datetime,
    user_id: str | None = None,
    code: str | None = None,
    connection_id: int | None = None,
) -> int:
    """Queue a Connect (``user_id`` or ``code``) or a Disconnect (``connection_id``) for
    the collector (blocking); returns the request's id."""
    with database.session() as session:
        row = ConnectRequest(
            vehicle_id=vehicle_id,
            action=action,
            api_version=api_version,
            smartcar_user_id=user_id,
            code=code,
            connection_id=connection_id,
            state=QUEUED,
            error="",
            created_at=at,
            updated_at=at,
        )
        session.add(row)
        session.flush()
        _notify(session, row)
        return row.id


def request_outcome(database: Database, request_id: int) -> Outcome | None:
    """The request's state now (blocking); None if the row is gone."""
    with database.session() as session:
        row = session.get(ConnectRequest, request_id)
        return None if row is None else Outcome(row.state, row.error, row.connection_id)


def give_up(database: Database, request_id: int, timeout_s: float, at: datetime) -> Outcome:
    """Time out a request still queued (blocking); one already claimed or finished is
    left to the collector and its state returned. The row lock waits for a claim that
    is happening right now, so a request timed out here is never carried out."""
    with database.session() as session:
        row = session.get(ConnectRequest, request_id, with_for_update=True)
        if row is None:
            return Outcome(FAILED, "the request disappeared from the database")
        if row.state == QUEUED:
            why = f"timed out: the collector did not take it within {timeout_s:g} s; not done"
            _set(session, row, Outcome(TIMED_OUT, why), at, collector=False)
        elif row.state == WORKING:
            return Outcome(
                FAILED,
                f"no answer from the collector within {timeout_s:g} s; it is still working "
                "on it, check the Connections view in a moment",
            )
        return Outcome(row.state, row.error, row.connection_id)


class HandoffClient:
    """The console's end: queue, then await the collector's outcome."""

    def __init__(
        self,
        database: Database,
        *,
        timeout_s: float,
        poll_s: float = DEFAULT_POLL_S,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._clock = clock

    async def connect(self, vehicle_id: int, api_version: str, answer: str) -> Outcome:
        """``answer`` is the redirect's V3 user id or v2.0 authorization code."""
        v3 = api_version == "3"

        def queue() -> int:
            return queue_request(
                self._db,
                vehicle_id,
                CONNECT,
                api_version=api_version,
                at=self._clock(),
                user_id=answer if v3 else None,
                code=None if v3 else answer,
            )

        return await self._ask(vehicle_id, CONNECT, queue)

    async def disconnect(self, vehicle_id: int, connection_id: int, api_version: str) -> Outcome:
        def queue() -> int:
            return queue_request(
                self._db,
                vehicle_id,
                DISCONNECT,
                api_version=api_version,
                at=self._clock(),
                connection_id=connection_id,
            )

        return await self._ask(vehicle_id, DISCONNECT, queue)

    async def _ask(self, vehicle_id: int, action: str, queue: Callable[[], int]) -> Outcome:
        try:
            request_id = await self._db.run(queue)
        except PermissionRefused as refused:  # a viewer, or a login revoked mid-shift
            logger.info("vehicle %d %s: %s", vehicle_id, action, refused)
            return Outcome(FAILED, str(refused))
        logger.info("vehicle %d %s: request #%d queued", vehicle_id, action, request_id)
        try:
            outcome = await asyncio.wait_for(self._outcome(request_id), self._timeout_s)
        except TimeoutError:
            outcome = await self._db.run(
                give_up, self._db, request_id, self._timeout_s, self._clock()
            )
        logger.info("vehicle %d %s: request #%d %s", vehicle_id, action, request_id, outcome.state)
        return outcome

    async def _outcome(self, request_id: int) -> Outcome:
        while True:
            found = await self._db.run(request_outcome, self._db, request_id)
            if found is None:
                return Outcome(FAILED, "the request disappeared from the database")
            if found.state in FINAL:
                return found
            await asyncio.sleep(self._poll_s)


# -- the collector's side ----------------------------------------------------------------


def abandon_in_flight(database: Database, at: datetime) -> list[int]:
    """Fail requests a previous collector claimed but never finished (blocking)."""
    with database.session() as session:
        rows = session.scalars(select(ConnectRequest).where(ConnectRequest.state == WORKING)).all()
        why = "outcome unknown: the collector stopped while working on it; check the vehicle"
        for row in rows:
            _set(session, row, Outcome(FAILED, why), at, collector=True)
        return [row.id for row in rows]


def claim_next(database: Database, at: datetime, max_age: timedelta) -> Claimed | None:
    """Take the oldest queued request whose requester may have it done (blocking); stale
    and refused ones on the way are failed with the reason."""
    while True:
        with database.session() as session:
            row = session.scalars(
                select(ConnectRequest)
                .where(ConnectRequest.state == QUEUED)
                .order_by(ConnectRequest.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            created = row.created_at
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            refusal = None
            if at - created > max_age:
                refusal = f"expired: not taken within {max_age.total_seconds():.0f} s"
            elif row.action not in (CONNECT, DISCONNECT):
                refusal = f"unknown request {row.action!r}"
            elif session.get_bind().dialect.name == "postgresql":
                refusal = command_refusal(
                    session.connection(), row.requester, what="connect or disconnect cars"
                )
            if refusal is not None:
                _set(session, row, Outcome(FAILED, refusal), at, collector=True)
                logger.warning("connect request %d refused: %s", row.id, refusal)
                continue
            _set(session, row, Outcome(WORKING), at, collector=True)
            return Claimed(
                row.id,
                row.vehicle_id,
                row.action,
                row.api_version,
                row.smartcar_user_id,
                row.code,
                row.connection_id,
                row.requester,
            )


def finish(database: Database, request_id: int, outcome: Outcome, at: datetime) -> None:
    with database.session() as session:
        row = session.get(ConnectRequest, request_id)
        if row is not None:
            _set(session, row, outcome, at, collector=True)


class ConnectHandoff:
    """The collector's worker: ``await run()`` (spawn it once, on the leader)."""

    def __init__(
        self,
        database: Database,
        execute: Callable[[Claimed], Awaitable[Outcome]],
        *,
        sweep_s: float = DEFAULT_SWEEP_S,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        """``execute`` carries a claimed request out (``ConnectionService.carry_out``)."""
        self._db = database
        self._execute = execute
        self._sweep_s = sweep_s
        self._max_age = timedelta(seconds=max_age_s)
        self._clock = clock
        self.done: deque[tuple[int, str]] = deque(maxlen=100)  # (request id, final state)

    async def run(self) -> None:
        abandoned = await self._db.run(abandon_in_flight, self._db, self._clock())
        if abandoned:
            logger.warning("connect hand-off: requests %s were in flight at a stop", abandoned)
        await sweep_on_notice(
            self._db.url,
            lambda c: c.table == TABLE and c.state == QUEUED,
            self.sweep,
            self._sweep_s,
            "connect hand-off",
        )

    async def sweep(self) -> int:
        """Carry out every queued request, oldest first; returns how many."""
        count = 0
        while True:
            claimed = await self._db.run(claim_next, self._db, self._clock(), self._max_age)
            if claimed is None:
                return count
            try:
                outcome = await self._execute(claimed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug below must not leave the request working
                logger.exception("connect hand-off: request %d crashed", claimed.id)
                outcome = Outcome(FAILED, f"internal error: {exc}")
            await self._db.run(finish, self._db, claimed.id, outcome, self._clock())
            self.done.append((claimed.id, outcome.state))
            logger.info(
                "connect hand-off: %s of vehicle %d for %s: %s%s",
                claimed.action,
                claimed.vehicle_id,
                claimed.requester,
                outcome.state,
                f" ({outcome.error})" if outcome.error else "",
            )
            count += 1
