"""The command audit trail: one ``command`` row per remote command, updated as it progresses.

Blocking functions for the database thread. The row is written before the command goes
out, so even a command that never reaches the device leaves a trace of who asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.models.database import Database
from app.models.enums import CommandState
from app.models.orm import Command


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited command as the views and tests read it."""

    id: int
    vehicle_id: int
    action: str
    channel: str
    actor_user: str
    actor_host: str
    reason: str
    state: str
    error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StateChange:
    audit_id: int
    state: str
    error: str
    at: datetime


def new_command(
    *,
    vehicle_id: int,
    action: str,
    channel: str,
    actor_user: str,
    actor_host: str,
    reason: str,
    at: datetime,
) -> Command:
    """A ``command`` row in state ``queued``; who asked is cut to the columns' widths."""
    return Command(
        vehicle_id=vehicle_id,
        action=action,
        channel=channel,
        actor_user=actor_user[:80],
        actor_host=actor_host[:120],
        reason=reason,
        state=CommandState.QUEUED.value,
        error="",
        created_at=at,
        updated_at=at,
    )


class CommandAudit:
    """Reads and writes ``command`` rows (blocking)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def open(
        self,
        *,
        vehicle_id: int,
        action: str,
        channel: str,
        actor_user: str,
        actor_host: str,
        reason: str,
        at: datetime,
    ) -> int:
        """Insert the row in state ``queued``; returns its id."""
        with self._db.session() as session:
            row = new_command(
                vehicle_id=vehicle_id,
                action=action,
                channel=channel,
                actor_user=actor_user,
                actor_host=actor_host,
                reason=reason,
                at=at,
            )
            session.add(row)
            session.flush()
            return row.id

    def apply(self, changes: Sequence[StateChange]) -> None:
        """Apply state changes in order, in one transaction."""
        if not changes:
            return
        with self._db.session() as session:
            rows = {
                r.id: r
                for r in session.scalars(
                    select(Command).where(Command.id.in_({c.audit_id for c in changes}))
                )
            }
            for change in changes:
                row = rows.get(change.audit_id)
                if row is None:
                    continue
                row.state = change.state
                if change.error:
                    row.error = change.error
                row.updated_at = change.at

    def for_vehicle(self, vehicle_id: int, limit: int = 50) -> list[AuditEntry]:
        """The vehicle's latest commands, newest first."""
        with self._db.session() as session:
            rows = session.scalars(
                select(Command)
                .where(Command.vehicle_id == vehicle_id)
                .order_by(Command.id.desc())
                .limit(limit)
            ).all()
            return [
                AuditEntry(
                    r.id,
                    r.vehicle_id,
                    r.action,
                    r.channel,
                    r.actor_user,
                    r.actor_host,
                    r.reason,
                    r.state,
                    r.error,
                    r.created_at,
                    r.updated_at,
                )
                for r in rows
            ]
