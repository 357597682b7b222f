"""Export for offline review: a self-contained SQLite file from the current database.

The file is built with the same migrations as any database (so ``--review`` opens it with
the same code), then filled with the chosen vehicles and what belongs to them: current
state, devices, connections, telemetry, commands, rentals and alerts within the time range.
Smartcar tokens are never copied: a review file may be mailed around, and the tokens would
unlock customers' cars. The query never even names those columns, so a person whose
database role may not read them (issue #18) can export too; the copies' token columns stay
empty and the summary (``left_out``, shown by the export dialog) names what was left out.
Runs blocking (call it on a worker thread) and reports progress.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, true

from app.models import roles
from app.models.database import Database, sqlite_url
from app.models.orm import (
    Alert,
    Command,
    IotDevice,
    Rental,
    SmartcarConnection,
    TelemetrySample,
    Vehicle,
    VehicleState,
)

logger = logging.getLogger(__name__)

BATCH = 5000
Progress = Callable[[int, int], None]  # rows copied so far, rows in total
#: Columns never read nor copied: secrets stay in the shared database.
SECRET_COLUMNS = roles.SECRET_COLUMNS


class ExportError(Exception):
    """The export cannot be written; the message is for the operator."""


@dataclass(frozen=True)
class ExportRequest:
    """Which vehicles (None: all) and which time range (None: open-ended)."""

    vehicle_ids: Sequence[int] | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class ExportSummary:
    file: Path
    rows: dict[str, int] = field(default_factory=dict)
    #: "table.column" of what was not exported (secrets); empty in the copy.
    left_out: list[str] = field(default_factory=list)


def _in_range(column: Any, since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    parts = []
    if since is not None:
        parts.append(column >= since)
    if until is not None:
        parts.append(column <= until)
    return and_(true(), *parts)


def _plan(request: ExportRequest) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table and the filter of its rows to copy, parents before children."""
    since, until = request.since, request.until

    def of_vehicles(column: Any) -> ColumnElement[bool]:
        if request.vehicle_ids is None:
            return true()
        return column.in_(list(request.vehicle_ids))

    rental_overlaps = and_(
        true() if until is None else Rental.created_at <= until,
        true() if since is None else or_(Rental.ended_at.is_(None), Rental.ended_at >= since),
    )
    alert_overlaps = and_(
        true() if until is None else Alert.first_seen <= until,
        true() if since is None else Alert.last_seen >= since,
    )
    return [
        (Vehicle.__table__, of_vehicles(Vehicle.id)),
        (VehicleState.__table__, of_vehicles(VehicleState.vehicle_id)),
        (IotDevice.__table__, of_vehicles(IotDevice.vehicle_id)),
        (SmartcarConnection.__table__, of_vehicles(SmartcarConnection.vehicle_id)),
        (
            TelemetrySample.__table__,
            and_(
                of_vehicles(TelemetrySample.vehicle_id),
                _in_range(TelemetrySample.recorded_at, since, until),
            ),
        ),
        (
            Command.__table__,
            and_(of_vehicles(Command.vehicle_id), _in_range(Command.created_at, since, until)),
        ),
        (Rental.__table__, and_(of_vehicles(Rental.vehicle_id), rental_overlaps)),
        (Alert.__table__, and_(of_vehicles(Alert.vehicle_id), alert_overlaps)),
    ]


def _batches(rows: Iterable[Any], size: int) -> Iterable[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(row._mapping))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_for_review(
    source: Database,
    target: Path,
    request: ExportRequest = ExportRequest(),
    progress: Progress | None = None,
) -> ExportSummary:
    """Write ``target`` (replaced if it exists); blocking. Raises ExportError."""
    target = target.resolve()
    if source.file is not None and source.file.resolve() == target:
        raise ExportError("choose another file: that is the database in use")
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    plan = _plan(request)
    summary = ExportSummary(target)
    try:
        with source.engine.connect() as src:
            total = sum(
                src.execute(select(func.count()).select_from(t).where(w)).scalar_one()
                for t, w in plan
            )
            copied = 0
            if progress is not None:
                progress(0, total)
            with Database(sqlite_url(partial)) as out:
                out.migrate()
                with out.engine.begin() as dst:
                    for table, where in plan:
                        count = 0
                        secret = SECRET_COLUMNS.get(table.name, ())
                        summary.left_out += [f"{table.name}.{c}" for c in secret]
                        columns = [c for c in table.columns if c.name not in secret]
                        query = select(*columns).where(where).order_by(*table.primary_key.columns)
                        rows = src.execution_options(yield_per=BATCH).execute(query)
                        for batch in _batches(rows, BATCH):
                            dst.execute(table.insert(), batch)
                            count += len(batch)
                            copied += len(batch)
                            if progress is not None:
                                progress(copied, total)
                        summary.rows[table.name] = count
        # One self-contained file: fold the WAL in and leave rollback-journal mode.
        with closing(sqlite3.connect(partial)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
        partial.replace(target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc}") from exc
    finally:
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    logger.info("exported for offline review to %s: %s", target, summary.rows)
    return summary
