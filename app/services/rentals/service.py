"""Rental sessions end to end: gate, start readings, unlock, check-out, lock, surcharges.

Qt-free; the dialogs and the board call it. Each step moves the rental one state along
(app.services.rentals.states) with a compare-and-set on the database, and appends a line
to the rental's note, so the history shows what happened and when. Readings come from
the vehicle (a fresh read when a reader is given, else the latest telemetry), never from
typing; a value older than ``telemetry.stale_after_min`` counts as missing.

Failures are typed and carry text for the operator: :class:`RentalBlocked` (gate, with
every problem listed), :class:`RentalStepFailed` (unlock failed: retry or cancel),
:class:`CheckoutBlocked` (door open, lock failed, not in a parking zone where parking zones
exist: the rental stays active).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, Protocol

from app.config import Settings
from app.listeners import Listeners
from app.models.connections import ConnectionRepository
from app.models.database import Database
from app.models.enums import ConnectionType
from app.models.enums import RentalState as S
from app.models.rentals import (
    RentalRecord,
    RentalRepository,
    VehicleAlreadyRented,
    vehicle_basics,
)
from app.models.telemetry_queries import LatestState, TelemetryQueries
from app.models.track_queries import Fix, TrackQueries
from app.services.commands.senders import (
    CommandOutcome,
    CommandUnavailable,
    VehicleCommands,
    actor_identity,
)
from app.services.rentals.gate import (
    GateFacts,
    GateResult,
    check_gate,
    motion_of,
    readings_from,
)
from app.services.rentals.motion import LOOKBACK, LOOKBACK_FIXES, Motion, MotionVerdict
from app.services.rentals.states import OPEN, PRE_ACTIVE, check_transition, is_expired
from app.services.rentals.surcharges import Readings, compute_receipt
from app.services.zones.service import ZoneService

logger = logging.getLogger(__name__)

OPEN_STATES = tuple(s.value for s in OPEN)


class VehicleReader(Protocol):
    """Asks the vehicle for a fresh reading and stores it (awaits durability)."""

    async def refresh(self, vehicle_id: int) -> None: ...


class RentalError(Exception):
    """Base of the rental failures; ``str(exc)`` is for the operator."""


class RentalBlocked(RentalError):
    def __init__(self, problems: tuple[str, ...] | list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("The rental cannot start:\n" + "\n".join(f"• {p}" for p in problems))


class RentalStepFailed(RentalError):
    def __init__(self, message: str, rental: RentalRecord) -> None:
        super().__init__(message)
        self.rental = rental


class CheckoutBlocked(RentalStepFailed):
    pass


class ReasonRequired(RentalError):
    """A command on a vehicle in someone else's rental needs a reason for the audit trail."""


def door_label(name: str) -> str:
    """'frontLeft' -> 'front left door'; lids keep their name ('trunk')."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return f"{words} door" if words.split()[0] in ("front", "back", "rear") else words


#: Openings that may stay open at check-out: an EV is returned plugged in, its charging
#: port open around the cable (that is how a car-sharing operator wants it back), and
#: the port is no way into the car, so it must not block the return.
OPEN_AT_RETURN = frozenset({"chargingPort"})


def returned_open(open_doors: tuple[str, ...]) -> tuple[str, ...]:
    """The openings that block a check-out: every open one but ``OPEN_AT_RETURN``."""
    return tuple(d for d in open_doors if d not in OPEN_AT_RETURN)


def _stamp(now: datetime, text: str) -> str:
    return f"{now:%Y-%m-%d %H:%M:%S}Z {text}"


class RentalService:
    """Starts, checks out, cancels and expires rentals; ``listeners`` hear rental ids."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        commands: VehicleCommands,
        *,
        reader: VehicleReader | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        operator: str | None = None,
        zones: ZoneService | None = None,
    ) -> None:
        self._db = database
        self._zones = zones
        self._settings = settings
        self.commands = commands
        self._reader = reader
        self._clock = clock
        self.repository = RentalRepository(database)
        self._connections = ConnectionRepository(database)
        self._queries = TelemetryQueries(database)
        self._tracks = TrackQueries(database)
        user, host = actor_identity()
        self.operator = operator or f"{user}@{host}"
        #: Hear the rental id whenever a rental moves.
        self.changes: Listeners[[int]] = Listeners("rental changes")
        #: Hear the vehicle id whenever one of its rentals moves (its status follows).
        self.vehicle_changes: Listeners[[list[int]]] = Listeners("rented vehicles")

    @property
    def currency(self) -> str:
        return self._settings.surcharges.currency

    @property
    def stale_after(self) -> timedelta:
        return timedelta(minutes=self._settings.telemetry.stale_after_min)

    def _notify(self, rental_id: int, vehicle_id: int | None = None) -> None:
        self.changes.notify(rental_id)
        if vehicle_id is not None:
            self.vehicle_changes.notify([vehicle_id])

    async def _move(
        self, rental: RentalRecord, target: S, note: str = "", **fields: Any
    ) -> RentalRecord:
        check_transition(rental.state, target)
        now = self._clock()
        text = _stamp(now, note) if note else ""
        moved = await self._db.run(
            lambda: self.repository.move(rental.id, rental.state, target.value, note=text, **fields)
        )
        self._notify(rental.id, rental.vehicle_id)
        return moved

    async def _note(self, rental: RentalRecord, text: str) -> None:
        await self._db.run(self.repository.add_note, rental.id, _stamp(self._clock(), text))
        self._notify(rental.id)

    async def get(self, rental_id: int) -> RentalRecord:
        record = await self._db.run(self.repository.get, rental_id)
        if record is None:
            raise RentalError(f"Rental #{rental_id} does not exist.")
        return record

    async def open_rentals(self) -> list[RentalRecord]:
        return await self._db.run(self.repository.in_states, OPEN_STATES)

    async def history(self, **filters: Any) -> list[RentalRecord]:
        return await self._db.run(lambda: self.repository.history(**filters))

    async def _fresh_latest(self, vehicle_id: int) -> tuple[LatestState | None, str]:
        """Ask the vehicle for a fresh reading (best effort), then the latest state."""
        problem = ""
        if self._reader is not None:
            try:
                await self._reader.refresh(vehicle_id)
            except Exception as exc:  # any failure: fall back to the latest telemetry
                problem = str(exc) or type(exc).__name__
                logger.info("fresh read of vehicle %d failed: %s", vehicle_id, problem)
        return await self._db.run(self._queries.latest, vehicle_id), problem

    async def _recent_fixes(self, vehicle_id: int) -> tuple[Fix, ...]:
        since = self._clock() - LOOKBACK
        fixes = await self._db.run(self._tracks.recent_fixes, vehicle_id, since, LOOKBACK_FIXES)
        return tuple(fixes)

    # -- check-in --------------------------------------------------------------------------

    async def check_gate(self, vehicle_id: int) -> tuple[GateFacts, GateResult]:
        """The gate's verdict now; also used by the start dialog."""
        basics = await self._db.run(vehicle_basics, self._db, vehicle_id)
        if basics is None:
            raise RentalBlocked(["The vehicle does not exist."])
        latest, read_problem = await self._fresh_latest(vehicle_id)
        connection = None
        if basics.connection_type == ConnectionType.SMARTCAR.value:
            connection = await self._db.run(self._connections.latest_for_vehicle, vehicle_id)
        other = await self._db.run(self.repository.open_for_vehicle, vehicle_id, OPEN_STATES)
        facts = GateFacts(
            vehicle_id,
            basics.connection_type,
            basics.archived,
            connection,
            basics.has_iot_device,
            latest,
            other.id if other else None,
            await self._recent_fixes(vehicle_id),
        )
        gate = check_gate(facts, self._clock(), self.stale_after)
        if read_problem and set(gate.problems) - set(gate.overridable):
            # Explains the hard problems (stale data); never blocks a start on its own.
            problem = f"Reading the vehicle failed: {read_problem}"
            gate = GateResult((*gate.problems, problem), gate.overridable, gate.motion)
        return facts, gate

    async def start(
        self, vehicle_id: int, customer_ref: str = "", *, override_reason: str = ""
    ) -> RentalRecord:
        """Gate, open, start readings, unlock, active. RentalBlocked / RentalStepFailed.

        ``override_reason`` lets the gate's overridable problems (motion unknown) pass; the
        rental's log records them with the reason and the operator."""
        facts, gate = await self.check_gate(vehicle_id)
        if not gate.allows(override_reason):
            raise RentalBlocked(gate.problems)
        now = self._clock()
        deadline = now + timedelta(minutes=self._settings.rentals.check_in_timeout_min)
        try:
            rental_id = await self._db.run(
                lambda: self.repository.open(
                    vehicle_id,
                    state=S.CHECK_IN_STARTED.value,
                    open_states=OPEN_STATES,
                    operator=self.operator,
                    customer_ref=customer_ref.strip(),
                    now=now,
                    deadline=deadline,
                )
            )
        except VehicleAlreadyRented as exc:
            raise RentalBlocked([f"The vehicle is already in rental #{exc.rental_id}."]) from exc
        rental = await self.get(rental_id)
        if gate.problems:
            overridden = "; ".join(gate.overridable)
            await self._note(
                rental, f"{self.operator} overrode: {overridden} Reason: {override_reason.strip()}"
            )
        readings, lat, lon = readings_from(facts.latest, now, self.stale_after)
        rental = await self._move(
            rental,
            S.PRE_CONDITION_DOCUMENTED,
            f"check-in by {self.operator}; {gate.motion} Start readings {_describe(readings)}",
            start_fuel_pct=readings.fuel_pct,
            start_charge_pct=readings.charge_pct,
            start_odometer_km=readings.odometer_km,
            start_latitude=lat,
            start_longitude=lon,
        )
        return await self.unlock(rental.id)

    async def unlock(self, rental_id: int) -> RentalRecord:
        """Unlock (or retry unlocking) a documented check-in; on success the rental is active."""
        rental = await self.get(rental_id)
        if is_expired(rental.state, rental.check_in_deadline, self._clock()):
            rental = await self._expire(rental)
            raise RentalStepFailed("The check-in took too long and has expired.", rental)
        check_transition(rental.state, S.VEHICLE_UNLOCKED)
        outcome = await self.commands.unlock(rental.vehicle_id, reason=f"rental #{rental.id}")
        if not outcome.ok:
            await self._note(rental, f"unlock failed: {outcome.error}")
            raise RentalStepFailed(
                f"Unlocking failed: {outcome.error}. Retry, or cancel the rental.",
                await self.get(rental.id),
            )
        rental = await self._move(rental, S.VEHICLE_UNLOCKED, "vehicle unlocked")
        return await self._move(rental, S.RENTAL_ACTIVE, "rental active", started_at=self._clock())

    async def cancel(self, rental_id: int, reason: str = "") -> RentalRecord:
        """Cancel before the rental is active; an unlocked car is locked again (best effort)."""
        rental = await self.get(rental_id)
        check_transition(rental.state, S.CANCELLED)
        note = f"cancelled by {self.operator}" + (f": {reason}" if reason else "")
        if rental.state == S.VEHICLE_UNLOCKED.value:
            note += "; " + _relock_note(await self.commands.lock(rental.vehicle_id))
        return await self._move(rental, S.CANCELLED, note, ended_at=self._clock())

    async def _expire(self, rental: RentalRecord) -> RentalRecord:
        note = "check-in expired"
        if rental.state == S.VEHICLE_UNLOCKED.value:
            reason = f"rental #{rental.id} check-in expired"
            note += "; " + _relock_note(await self.commands.lock(rental.vehicle_id, reason=reason))
        return await self._move(rental, S.CHECK_IN_EXPIRED, note, ended_at=self._clock())

    async def expire_due(self) -> list[int]:
        """The sweep: expire every check-in past its deadline; returns their ids."""
        now = self._clock()
        pending = await self._db.run(self.repository.in_states, tuple(s.value for s in PRE_ACTIVE))
        expired = []
        for rental in pending:
            if is_expired(rental.state, rental.check_in_deadline, now):
                await self._expire(rental)
                expired.append(rental.id)
        return expired

    # -- check-out -------------------------------------------------------------------------

    async def check_out(self, rental_id: int) -> RentalRecord:
        """In a parking zone (where there are any), doors closed, lock verified, end
        readings, surcharges; CheckoutBlocked keeps it active with the reason (the door
        named, the nearest parking zone)."""
        rental = await self._move(await self.get(rental_id), S.CHECK_OUT_STARTED, "check-out")
        vehicle_id = rental.vehicle_id
        latest = None
        if self._zones is not None and await self._zones.has_parking_zones():
            # The fresh read that places the vehicle is also the end reading (one request).
            latest, _ = await self._fresh_latest(vehicle_id)
            _, lat, lon = readings_from(latest, self._clock(), self.stale_after)
            position = None if lat is None or lon is None else (lon, lat)
            label = rental.fleet_number or rental.vehicle_name
            if refusal := await self._zones.parking_refusal(label, position):
                await self._back_to_active(rental, refusal)
        try:
            status = await self.commands.read_lock_status(vehicle_id)
        except CommandUnavailable as exc:
            await self._back_to_active(rental, f"the lock status could not be read: {exc}")
        if blocking := returned_open(status.open_doors):
            doors = ", ".join(door_label(d) for d in blocking)
            await self._back_to_active(rental, f"the {doors} is open; close it and try again")
        outcome: CommandOutcome = await self.commands.lock(
            vehicle_id, reason=f"rental #{rental.id} check-out"
        )
        if not outcome.ok:
            await self._back_to_active(rental, f"locking failed: {outcome.error}")
        if outcome.lock is not None and (blocking := returned_open(outcome.lock.open_doors)):
            doors = ", ".join(door_label(d) for d in blocking)
            await self._back_to_active(rental, f"the {doors} is open; close it and try again")
        rental = await self._move(rental, S.VEHICLE_LOCKED, "vehicle locked")
        return await self._bill(rental, latest)

    async def _back_to_active(self, rental: RentalRecord, why: str) -> NoReturn:
        back = await self._move(rental, S.RENTAL_ACTIVE, f"check-out blocked: {why}")
        raise CheckoutBlocked(f"Check-out blocked: {why}.", back)

    async def _bill(self, rental: RentalRecord, latest: LatestState | None) -> RentalRecord:
        """End readings (``latest`` when check-out already read the vehicle), surcharges."""
        if latest is None:
            latest, _ = await self._fresh_latest(rental.vehicle_id)
        now = self._clock()
        end, lat, lon = readings_from(latest, now, self.stale_after)
        start = Readings(
            rental.start["fuel_pct"], rental.start["charge_pct"], rental.start["odometer_km"]
        )
        surcharges = self._settings.surcharges
        receipt = compute_receipt(
            surcharges.for_kind(rental.vehicle_kind),
            start,
            end,
            started_at=rental.started_at or rental.created_at,
            ended_at=now,
            powertrain=rental.powertrain,
            currency=surcharges.currency,
            phev_energy=surcharges.phev_energy,
        )
        rental = await self._move(
            rental,
            S.BILLING_COMPLETE,
            f"end readings {_describe(end)}; surcharges {receipt.total} {receipt.currency}",
            ended_at=now,
            end_fuel_pct=end.fuel_pct,
            end_charge_pct=end.charge_pct,
            end_odometer_km=end.odometer_km,
            end_latitude=lat,
            end_longitude=lon,
            surcharge_lines=[line.to_json() for line in receipt.lines],
            surcharge_total=receipt.total,
        )
        return await self._move(rental, S.COMPLETED, "completed")

    # -- commands outside the rental flow --------------------------------------------------

    async def guarded_command(
        self, vehicle_id: int, action: str, reason: str = ""
    ) -> CommandOutcome:
        """Operator lock/unlock with the product's preconditions: a moving vehicle is not
        unlocked; a vehicle in a rental needs a reason (ReasonRequired)."""
        if action not in ("lock", "unlock"):
            raise ValueError(f"unknown action {action!r}")
        refusal = await self.command_refusal(vehicle_id, action, reason)
        if refusal is not None:
            return CommandOutcome(False, action, refusal)
        send = self.commands.unlock if action == "unlock" else self.commands.lock
        return await send(vehicle_id, reason=reason.strip())

    async def motion(self, vehicle_id: int) -> MotionVerdict:
        """How the vehicle's motion is judged now, from stored data (no fresh read): the
        manual unlock refuses a moving vehicle and names "motion unknown" in its question,
        but allows it, because the operator sending it by hand is the one who decides."""
        latest = await self._db.run(self._queries.latest, vehicle_id)
        fixes = await self._recent_fixes(vehicle_id)
        return motion_of(latest, fixes, self._clock(), self.stale_after)

    async def command_refusal(self, vehicle_id: int, action: str, reason: str = "") -> str | None:
        """Why an operator's ``action`` must not be sent now (None: go ahead).

        Raises ReasonRequired for a vehicle in a rental when no reason is given. Shared by
        every place that sends a remote command by hand (car panel, IoT device panel).
        """
        if action == "unlock":
            verdict = await self.motion(vehicle_id)
            if verdict.motion is Motion.MOVING:
                return f"the vehicle is moving ({verdict.detail}); not unlocked"
        rental = await self._db.run(self.repository.open_for_vehicle, vehicle_id, OPEN_STATES)
        if rental is not None and not reason.strip():
            raise ReasonRequired(
                f"The vehicle is in rental #{rental.id} "
                f"({rental.customer_ref or 'no customer reference'}); "
                "give a reason for the audit trail."
            )
        return None


def _relock_note(outcome: CommandOutcome) -> str:
    return "vehicle locked again" if outcome.ok else f"locking it again failed: {outcome.error}"


def _describe(r: Readings) -> str:
    parts = [
        f"{name} {'missing' if value is None else f'{value:g}{unit}'}"
        for name, value, unit in (
            ("fuel", r.fuel_pct, " %"),
            ("charge", r.charge_pct, " %"),
            ("odometer", r.odometer_km, " km"),
        )
    ]
    return ", ".join(parts)
