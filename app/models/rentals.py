"""Rental sessions (the ``rental`` table): blocking reads and writes for the database thread.

State changes are compare-and-set: :meth:`RentalRepository.move` only moves a rental that
is still in the state the caller saw, so two workstations (or a sweep and an operator)
cannot both complete the same step. Opening a rental checks, in the same transaction,
that the vehicle has no other open rental; two workstations opening at the same instant can
both pass that check on PostgreSQL, so the partial unique index ``uq_rental_open_vehicle``
refuses the second insert and :meth:`RentalRepository.open` reports it as the same
:class:`VehicleAlreadyRented`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.database import Database
from app.models.orm import IotDevice, Rental, Vehicle

READING_COLUMNS = (
    "fuel_pct",
    "charge_pct",
    "odometer_km",
    "latitude",
    "longitude",
)


class VehicleAlreadyRented(Exception):
    """The vehicle has another open rental; ``rental_id`` names it."""

    def __init__(self, rental_id: int) -> None:
        super().__init__(f"the vehicle is already in rental #{rental_id}")
        self.rental_id = rental_id


class StaleRentalState(Exception):
    """The rental moved on (another workstation or the expiry sweep) before this change."""


@dataclass(frozen=True, slots=True)
class RentalRecord:
    """One rental with its vehicle's name, as views and the service read it."""

    id: int
    vehicle_id: int
    vehicle_name: str
    fleet_number: str
    vehicle_kind: str
    powertrain: str | None
    state: str
    operator: str
    customer_ref: str
    created_at: datetime
    check_in_deadline: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    start: dict[str, float | None]
    end: dict[str, float | None]
    surcharge_lines: tuple[dict[str, Any], ...]
    surcharge_total: Decimal | None
    note: str


def _record(r: Rental, v: Vehicle) -> RentalRecord:
    return RentalRecord(
        id=r.id,
        vehicle_id=r.vehicle_id,
        vehicle_name=v.name,
        fleet_number=v.fleet_number,
        vehicle_kind=v.kind,
        powertrain=v.powertrain,
        state=r.state,
        operator=r.operator,
        customer_ref=r.customer_ref,
        created_at=r.created_at,
        check_in_deadline=r.check_in_deadline,
        started_at=r.started_at,
        ended_at=r.ended_at,
        start={c: getattr(r, f"start_{c}") for c in READING_COLUMNS},
        end={c: getattr(r, f"end_{c}") for c in READING_COLUMNS},
        surcharge_lines=tuple(r.surcharge_lines or ()),
        surcharge_total=r.surcharge_total,
        note=r.note,
    )


class RentalRepository:
    """Blocking; call every method through ``Database.run``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def open(
        self,
        vehicle_id: int,
        *,
        state: str,
        open_states: Iterable[str],
        operator: str,
        customer_ref: str,
        now: datetime,
        deadline: datetime,
    ) -> int:
        """Insert a new rental; VehicleAlreadyRented if the vehicle has an open one."""
        open_states = list(open_states)
        try:
            with self._db.session() as s:
                other = self._open_id(s, vehicle_id, open_states)
                if other is not None:
                    raise VehicleAlreadyRented(other)
                row = Rental(
                    vehicle_id=vehicle_id,
                    state=state,
                    operator=operator[:80],
                    customer_ref=customer_ref[:120],
                    created_at=now,
                    check_in_deadline=deadline,
                )
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError as exc:
            # Lost the race against another workstation: the index waited for its commit,
            # so a fresh transaction sees the rental that won and can name it.
            with self._db.session() as s:
                other = self._open_id(s, vehicle_id, open_states)
            if other is None:
                raise  # not the open-rental index (e.g. the vehicle was deleted)
            raise VehicleAlreadyRented(other) from exc

    @staticmethod
    def _open_id(s: Session, vehicle_id: int, open_states: list[str]) -> int | None:
        return s.scalars(
            select(Rental.id).where(Rental.vehicle_id == vehicle_id, Rental.state.in_(open_states))
        ).first()

    def get(self, rental_id: int) -> RentalRecord | None:
        with self._db.session() as s:
            r = s.get(Rental, rental_id)
            return None if r is None else _record(r, s.get_one(Vehicle, r.vehicle_id))

    def open_for_vehicle(self, vehicle_id: int, open_states: Iterable[str]) -> RentalRecord | None:
        with self._db.session() as s:
            r = s.scalars(
                select(Rental).where(
                    Rental.vehicle_id == vehicle_id, Rental.state.in_(list(open_states))
                )
            ).first()
            return None if r is None else _record(r, s.get_one(Vehicle, vehicle_id))

    def in_states(self, states: Iterable[str]) -> list[RentalRecord]:
        """Rentals in ``states``, oldest first (the active board, the expiry sweep)."""
        with self._db.session() as s:
            rows = s.execute(
                select(Rental, Vehicle)
                .join(Vehicle, Vehicle.id == Rental.vehicle_id)
                .where(Rental.state.in_(list(states)))
                .order_by(Rental.id)
            ).all()
            return [_record(r, v) for r, v in rows]

    def history(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        vehicle_id: int | None = None,
        limit: int = 1000,
    ) -> list[RentalRecord]:
        """Rentals created in ``[since, until)``, newest first."""
        query = select(Rental, Vehicle).join(Vehicle, Vehicle.id == Rental.vehicle_id)
        if since is not None:
            query = query.where(Rental.created_at >= since)
        if until is not None:
            query = query.where(Rental.created_at < until)
        if vehicle_id is not None:
            query = query.where(Rental.vehicle_id == vehicle_id)
        with self._db.session() as s:
            rows = s.execute(query.order_by(Rental.id.desc()).limit(limit)).all()
            return [_record(r, v) for r, v in rows]

    def move(
        self,
        rental_id: int,
        expected: str,
        target: str,
        *,
        note: str = "",
        **fields: Any,
    ) -> RentalRecord:
        """Set ``state = target`` (and ``fields``) if the rental is still in ``expected``.

        ``note`` is appended as a line to the rental's note (its event log).
        """
        with self._db.session() as s:
            r = s.get(Rental, rental_id)
            if r is None:
                raise StaleRentalState(f"rental #{rental_id} does not exist")
            if r.state != expected:
                raise StaleRentalState(
                    f"rental #{rental_id} is now {r.state}, not {expected}; reload and retry"
                )
            r.state = target
            for name, value in fields.items():
                if not hasattr(Rental, name):
                    raise AttributeError(f"rental has no column {name!r}")
                setattr(r, name, value)
            if note:
                r.note = f"{r.note}\n{note}" if r.note else note
            s.flush()
            return _record(r, s.get_one(Vehicle, r.vehicle_id))

    def add_note(self, rental_id: int, note: str) -> None:
        with self._db.session() as s:
            r = s.get_one(Rental, rental_id)
            r.note = f"{r.note}\n{note}" if r.note else note


@dataclass(frozen=True, slots=True)
class VehicleBasics:
    """What the rental gate needs to know about the vehicle itself."""

    id: int
    name: str
    kind: str
    powertrain: str | None
    connection_type: str
    archived: bool
    has_iot_device: bool


def vehicle_basics(database: Database, vehicle_id: int) -> VehicleBasics | None:
    """Blocking: the vehicle's kind, powertrain, connection and IoT device presence."""
    with database.session() as s:
        v = s.get(Vehicle, vehicle_id)
        if v is None:
            return None
        device = s.scalars(select(IotDevice.id).where(IotDevice.vehicle_id == vehicle_id)).first()
        return VehicleBasics(
            v.id,
            v.name,
            v.kind,
            v.powertrain,
            v.connection_type,
            v.archived_at is not None,
            device is not None,
        )
