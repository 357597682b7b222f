"""CSV exports people can hand over (product.md 4.6): rentals, the audit trail, telemetry.

Blocking functions for the database thread (``await database.run(export_..., ...)``);
rows are streamed from the database to the file, so a year of telemetry never sits in
memory. Text cells that a spreadsheet would run as a formula (=, +, -, @ first) are
prefixed with an apostrophe: an exported customer reference must not become a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.models.database import Database
from app.models.field_tasks import TaskRecord
from app.models.orm import Command, Rental, TelemetrySample, Vehicle
from app.models.telemetry_store import STATE_COLUMNS

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _write(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            count += 1
    return count


def _range(query, column, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


RENTAL_HEADER = [
    "rental_id",
    "fleet_number",
    "vehicle",
    "state",
    "operator",
    "customer_ref",
    "created_at",
    "started_at",
    "ended_at",
    "start_fuel_pct",
    "end_fuel_pct",
    "start_charge_pct",
    "end_charge_pct",
    "start_odometer_km",
    "end_odometer_km",
    "surcharge_total",
    "surcharges",
]


def export_rentals(
    database: Database, path: Path, since: datetime | None = None, until: datetime | None = None
) -> int:
    """Rentals created in ``[since, until)``; returns the number of rows written."""

    def rows() -> Iterator[list[Any]]:
        query = _range(
            select(Rental, Vehicle).join(Vehicle, Vehicle.id == Rental.vehicle_id),
            Rental.created_at,
            since,
            until,
        ).order_by(Rental.id)
        with database.session() as s:
            for r, v in s.execute(query):
                lines = "; ".join(
                    f"{line['kind']} {line['amount']}: {line['explanation']}"
                    for line in r.surcharge_lines or ()
                )
                yield [
                    r.id,
                    v.fleet_number,
                    v.name,
                    r.state,
                    r.operator,
                    r.customer_ref,
                    r.created_at,
                    r.started_at,
                    r.ended_at,
                    r.start_fuel_pct,
                    r.end_fuel_pct,
                    r.start_charge_pct,
                    r.end_charge_pct,
                    r.start_odometer_km,
                    r.end_odometer_km,
                    r.surcharge_total,
                    lines,
                ]

    return _write(path, RENTAL_HEADER, rows())


AUDIT_HEADER = [
    "id",
    "created_at",
    "updated_at",
    "fleet_number",
    "vehicle",
    "action",
    "channel",
    "user",
    "workstation",
    "reason",
    "result",
    "error",
]


def export_audit(
    database: Database,
    path: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    vehicle_id: int | None = None,
) -> int:
    def rows() -> Iterator[list[Any]]:
        query = _range(
            select(Command, Vehicle).join(Vehicle, Vehicle.id == Command.vehicle_id),
            Command.created_at,
            since,
            until,
        )
        if vehicle_id is not None:
            query = query.where(Command.vehicle_id == vehicle_id)
        with database.session() as s:
            for c, v in s.execute(query.order_by(Command.id)):
                yield [
                    c.id,
                    c.created_at,
                    c.updated_at,
                    v.fleet_number,
                    v.name,
                    c.action,
                    c.channel,
                    c.actor_user,
                    c.actor_host,
                    c.reason,
                    c.state,
                    c.error,
                ]

    return _write(path, AUDIT_HEADER, rows())


#: The CSV's columns: when and from where, then every stored field (one list: the store's).
TELEMETRY_COLUMNS = ["recorded_at", "received_at", "source", *STATE_COLUMNS]


def export_telemetry(
    database: Database, path: Path, vehicle_id: int, since: datetime, until: datetime
) -> int:
    """One vehicle's samples with ``since <= recorded_at < until``, in time order."""

    def rows() -> Iterator[list[Any]]:
        columns = [getattr(TelemetrySample, c) for c in TELEMETRY_COLUMNS]
        query = _range(
            select(*columns).where(TelemetrySample.vehicle_id == vehicle_id),
            TelemetrySample.recorded_at,
            since,
            until,
        ).order_by(TelemetrySample.recorded_at)
        with database.session() as s:
            yield from (list(row) for row in s.execute(query.execution_options(yield_per=5000)))

    return _write(path, TELEMETRY_COLUMNS, rows())


TASK_HEADER = [
    "id",
    "vehicle",
    "fleet_number",
    "kind",
    "state",
    "priority",
    "due_at",
    "assignee",
    "reason",
    "notes",
    "created_by",
    "created_at",
    "updated_at",
    "finished_at",
]


def export_tasks(database: Database, path: Path, tasks: Iterable[TaskRecord]) -> int:
    """The field tasks the Tasks window lists (its filters applied), in its order."""
    return _write(
        path,
        TASK_HEADER,
        (
            [
                t.id,
                t.vehicle_name,
                t.fleet_number,
                t.kind,
                t.state,
                t.priority,
                t.due_at,
                t.assignee,
                t.reason,
                t.notes,
                t.created_by,
                t.created_at,
                t.updated_at,
                t.finished_at,
            ]
            for t in tasks
        ),
    )
