"""The audit trail for its view: recent ``command`` rows with the vehicle, filterable.

Blocking; call through ``Database.run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from app.models.database import Database
from app.models.orm import Command, Vehicle


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    created_at: datetime
    fleet_number: str
    vehicle_name: str
    action: str
    channel: str
    actor: str
    reason: str
    state: str
    error: str


def _who(command: Command) -> str:
    """The signed-in login where the database recorded one (shared mode: written by the
    server, so no client can forge it), with the workstation's user if it differs."""
    typed = f"{command.actor_user}@{command.actor_host}"
    if command.requester is None:
        return typed
    if command.requester == command.actor_user:
        return f"{command.requester} (at {command.actor_host})"
    return f"{command.requester} (workstation user {typed})"


def audit_rows(
    database: Database, *, search: str = "", since: datetime | None = None, limit: int = 2000
) -> list[AuditRow]:
    """Newest first; ``search`` matches fleet number, vehicle, action, user or result."""
    query = select(Command, Vehicle).join(Vehicle, Vehicle.id == Command.vehicle_id)
    if since is not None:
        query = query.where(Command.created_at >= since)
    text = search.strip()
    if text:
        like = f"%{text}%"
        query = query.where(
            or_(
                Vehicle.fleet_number.ilike(like),
                Vehicle.name.ilike(like),
                Command.action.ilike(like),
                Command.actor_user.ilike(like),
                Command.requester.ilike(like),
                Command.state.ilike(like),
            )
        )
    with database.session() as s:
        return [
            AuditRow(
                c.id,
                c.created_at,
                v.fleet_number,
                v.name,
                c.action,
                c.channel,
                _who(c),
                c.reason,
                c.state,
                c.error,
            )
            for c, v in s.execute(query.order_by(Command.id.desc()).limit(limit))
        ]
