"""What the telemetry cron reads from and writes to ``smartcar_connection``.

Only the polling columns are touched here (``last_sync_at``, ``last_error``,
``budget_month``, ``requests_this_month``); tokens and status belong to the connection
repository and the token refresher. Updates are applied by the telemetry store inside the
same transaction as the samples of that poll, so "synced at" and the stored data can never
disagree after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.models.orm import SmartcarConnection, Vehicle


@dataclass(frozen=True, slots=True)
class PollTarget:
    """One active Smartcar connection as the cron schedules it."""

    connection_id: int
    vehicle_id: int
    smartcar_vehicle_id: str
    budget_month: str
    requests_this_month: int
    last_sync_at: datetime | None
    powertrain: str | None = None  # the vehicle's: a plug-in car's poll also reads /charge
    granted_scopes: tuple[str, ...] = ()
    webhook_subscribed: bool = False  # V3 and subscribed: deliveries come by webhook
    last_delivery_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectionPollUpdate:
    """The bookkeeping of one poll. ``last_error`` None leaves the stored text alone (a
    text is stamped with ``polled_at``, "" clears both); ``synced_at`` None (nothing read)
    leaves ``last_sync_at`` alone."""

    connection_id: int
    budget_month: str
    requests_this_month: int
    synced_at: datetime | None = None
    last_error: str | None = None
    polled_at: datetime | None = None


def load_poll_targets(database: Database) -> list[PollTarget]:
    """Every connection worth polling (blocking; run via ``Database.run``)."""
    c = SmartcarConnection.__table__.c
    query = (
        select(
            c.id,
            c.vehicle_id,
            c.smartcar_vehicle_id,
            c.budget_month,
            c.requests_this_month,
            c.last_sync_at,
            Vehicle.powertrain,
            c.granted_scopes,
            c.webhook_state,
            c.last_delivery_at,
        )
        .join(Vehicle, Vehicle.id == c.vehicle_id)
        # "error" = Smartcar or the manufacturer had an outage: keep polling, it recovers.
        .where(c.status.in_((ConnectionStatus.ACTIVE.value, ConnectionStatus.ERROR.value)))
        .order_by(c.id)
    )
    with database.session() as session:
        return [
            PollTarget(
                ids,
                vehicle,
                car,
                month,
                used,
                synced,
                powertrain,
                tuple(scopes or ()),
                webhook == "subscribed",
                delivered,
            )
            for ids, vehicle, car, month, used, synced, powertrain, scopes, webhook, delivered in (
                session.execute(query)
            )
        ]


def apply_updates(connection: Connection, updates: Sequence[ConnectionPollUpdate]) -> None:
    """Write poll bookkeeping inside the caller's transaction (one statement per shape)."""
    table = SmartcarConnection.__table__
    groups: dict[tuple[bool, bool], list[dict[str, object]]] = {}
    for u in updates:
        # Parameter names must differ from the column names (SQLAlchemy reserves those).
        row: dict[str, object] = {
            "p_id": u.connection_id,
            "p_month": u.budget_month,
            "p_count": u.requests_this_month,
        }
        if u.synced_at is not None:
            row["p_synced"] = u.synced_at
        if u.last_error is not None:
            row["p_error"] = u.last_error
            row["p_error_at"] = u.polled_at if u.last_error else None
        key = (u.synced_at is not None, u.last_error is not None)
        groups.setdefault(key, []).append(row)
    for (synced, errored), rows in groups.items():
        values: dict[str, object] = {
            "budget_month": bindparam("p_month"),
            "requests_this_month": bindparam("p_count"),
        }
        if synced:
            values["last_sync_at"] = bindparam("p_synced", type_=table.c.last_sync_at.type)
        if errored:
            values["last_error"] = bindparam("p_error")
            values["last_error_at"] = bindparam("p_error_at", type_=table.c.last_error_at.type)
        statement = update(table).where(table.c.id == bindparam("p_id")).values(values)
        connection.execute(statement, rows)
