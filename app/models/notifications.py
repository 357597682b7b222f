"""The ``notification`` table: what was sent outside the console, to whom, and how it went.

Rows are written before the first attempt (state queued), so a crash or a failing channel
never loses one; the sender then marks each attempt. Blocking; call through ``Database.run``.

On a shared database several processes send from one table: the collector its e-mail,
each console the desktop messages of its own workstation. So what waits to be sent is
always read for a :data:`Scope` (channel -> the recipients this process sends to): a
process never takes, fails or counts a row another one will send.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select, update

from app.models.database import Database
from app.models.orm import Notification, Vehicle

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
#: The longest recipient stored (longer ones are cut, in the scope as in the row).
RECIPIENT_MAX = 254

#: channel -> recipients: the rows one process sends (see the module's docstring).
Scope = Mapping[str, Collection[str]]


def _in_scope(scope: Scope) -> ColumnElement[bool]:
    """Rows of ``scope`` that still wait: queued, or failed and to be retried."""
    mine = [
        and_(Notification.channel == channel, Notification.recipient.in_(_cut(recipients)))
        for channel, recipients in scope.items()
        if recipients
    ]
    return and_(
        or_(*mine) if mine else false(),
        Notification.state.in_((QUEUED, FAILED)),
        Notification.next_attempt_at.is_not(None),
    )


def _cut(recipients: Collection[str]) -> list[str]:
    return [r[:RECIPIENT_MAX] for r in recipients]


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to record: which alert, channel and recipient, and its text."""

    alert_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    alert_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str
    state: str
    attempts: int
    last_error: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


def _record(n: Notification) -> NotificationRecord:
    return NotificationRecord(
        n.id,
        n.alert_id,
        n.channel,
        n.recipient,
        n.subject,
        n.body,
        n.state,
        n.attempts,
        n.last_error,
        n.created_at,
        n.updated_at,
        n.sent_at,
        n.next_attempt_at,
    )


class NotificationRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def vehicle_labels(self, vehicle_ids: Iterable[int]) -> dict[int, str]:
        """vehicle id -> "Name [fleet number]" for the notifications' text."""
        with self._db.session() as s:
            rows = s.execute(
                select(Vehicle.id, Vehicle.name, Vehicle.fleet_number).where(
                    Vehicle.id.in_(list(vehicle_ids))
                )
            )
            return {i: f"{name} [{number}]" for i, name, number in rows}

    def add(self, items: Iterable[NewNotification], now: datetime) -> list[NotificationRecord]:
        """Record ``items`` as queued (one transaction); returns them with their ids."""
        with self._db.session() as s:
            rows = [
                Notification(
                    alert_id=i.alert_id,
                    channel=i.channel,
                    recipient=i.recipient[:RECIPIENT_MAX],
                    subject=i.subject[:200],
                    body=i.body,
                    state=QUEUED,
                    attempts=0,
                    last_error="",
                    created_at=now,
                    updated_at=now,
                    next_attempt_at=now,
                )
                for i in items
            ]
            s.add_all(rows)
            s.flush()
            return [_record(r) for r in rows]

    def due(self, now: datetime, scope: Scope) -> list[NotificationRecord]:
        """The rows of ``scope`` waiting whose next attempt is now or past, oldest first
        (also those left over by a process that quit before sending them)."""
        with self._db.session() as s:
            query = (
                select(Notification)
                .where(_in_scope(scope), Notification.next_attempt_at <= now)
                .order_by(Notification.id)
            )
            return [_record(n) for n in s.scalars(query)]

    def next_due(self, scope: Scope, busy: Iterable[int] = ()) -> datetime | None:
        """When the earliest waiting row of ``scope`` is due, leaving out the ``busy`` ones
        (being sent now); None: nothing waits."""
        query = (
            select(Notification.next_attempt_at)
            .where(_in_scope(scope))
            .order_by(Notification.next_attempt_at)
            .limit(1)
        )
        busy = list(busy)
        if busy:
            query = query.where(Notification.id.not_in(busy))
        with self._db.session() as s:
            return s.scalar(query)

    def attempted(
        self,
        notification_id: int,
        now: datetime,
        *,
        error: str | None,
        retry_at: datetime | None = None,
    ) -> None:
        """One attempt done: sent (``error`` None), or failed and retried at ``retry_at``
        (None: no more attempts)."""
        values: dict[str, object] = {
            "attempts": Notification.attempts + 1,
            "updated_at": now,
        }
        if error is None:
            values.update(state=SENT, sent_at=now, last_error="", next_attempt_at=None)
        else:
            values.update(state=FAILED, last_error=error[:2000], next_attempt_at=retry_at)
        with self._db.session() as s:
            s.execute(update(Notification).where(Notification.id == notification_id).values(values))

    def recent(self, limit: int = 500, *, channel: str | None = None) -> list[NotificationRecord]:
        """The newest notifications first (the Notifications window)."""
        query = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(Notification.channel == channel)
        with self._db.session() as s:
            return [_record(n) for n in s.scalars(query)]

    def waiting(self, scope: Scope) -> dict[str, int]:
        """channel -> how many rows of ``scope`` still wait to be sent (queued, or failed
        and retried)."""
        with self._db.session() as s:
            rows = s.execute(
                select(Notification.channel, func.count())
                .where(_in_scope(scope))
                .group_by(Notification.channel)
            )
            return {channel: count for channel, count in rows}
