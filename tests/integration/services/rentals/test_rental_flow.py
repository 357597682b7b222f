"""The rental flow end to end against the Smartcar simulator over real localhost HTTP."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models.enums import RentalState
from app.models.orm import Command
from app.models.zones import ZoneShape
from app.services.rentals.service import CheckoutBlocked, RentalBlocked, RentalStepFailed
from app.services.zones.index import metres_per_degree
from tests.integration.services.rentals.conftest import FORD, TESLA, Rig

pytestmark = pytest.mark.asyncio


def audit(rig: Rig) -> list[tuple[str, str, str]]:
    with rig.db.session() as s:
        return [
            (c.action, c.state, c.channel) for c in s.scalars(select(Command).order_by(Command.id))
        ]


#: Smartcar reports no speed; a car read once has one position, so its motion is unknown
#: (app.services.rentals.motion) and these starts give a reason.
PARKED = "parked in bay 4, seen on the depot camera"


async def test_full_rental_drive_and_checkout_with_surcharges(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked", locked=True, open_doors=[])
    rental = await rig.rentals.start(rig.vehicles[FORD], "booking 42", override_reason=PARKED)
    assert rental.state == RentalState.RENTAL_ACTIVE
    assert rental.start["fuel_pct"] is not None and rental.start["odometer_km"] is not None
    assert rental.start["latitude"] is not None
    assert (await rig.sim_state(FORD))["locked"] is False  # really unlocked in the "car"
    assert "Start readings fuel" in rental.note and rental.customer_ref == "booking 42"
    assert "Motion unknown: this vehicle reports no speed and has one position." in rental.note
    assert f"Reason: {PARKED}" in rental.note

    await rig.sim_state(FORD, activity="driving")
    rig.clock.advance(3600)  # one hour at the simulator's 36 km/h
    await rig.sim_state(FORD, activity="parked")
    done = await rig.rentals.check_out(rental.id)

    assert done.state == RentalState.COMPLETED
    assert (await rig.sim_state(FORD))["locked"] is True
    driven = done.end["odometer_km"] - done.start["odometer_km"]
    assert 35.0 <= driven <= 37.0
    used = done.start["fuel_pct"] - done.end["fuel_pct"]
    assert used > 0
    lines = {line["kind"]: line for line in done.surcharge_lines}
    assert set(lines) == {"fuel", "mileage"}
    expected_km = (
        Decimal(repr(done.end["odometer_km"])) - Decimal(repr(done.start["odometer_km"])) - 10
    ) * Decimal("0.30")
    assert Decimal(lines["mileage"]["amount"]) == expected_km.quantize(Decimal("0.01"))
    assert done.surcharge_total == Decimal(lines["fuel"]["amount"]) + Decimal(
        lines["mileage"]["amount"]
    )
    assert audit(rig) == [("unlock", "confirmed", "smartcar"), ("lock", "confirmed", "smartcar")]


async def test_open_door_blocks_checkout_with_the_door_named(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    rental = await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    await rig.sim_state(FORD, open_doors=["frontLeft"])
    with pytest.raises(CheckoutBlocked, match="front left door is open") as info:
        await rig.rentals.check_out(rental.id)
    assert info.value.rental.state == RentalState.RENTAL_ACTIVE
    assert (await rig.sim_state(FORD))["locked"] is False  # not locked with a door open
    await rig.sim_state(FORD, open_doors=[])
    assert (await rig.rentals.check_out(rental.id)).state == RentalState.COMPLETED


async def test_gate_names_each_missing_permission_and_expired_connection(rig: Rig):
    connection_id = await rig.connect(TESLA)
    repo = rig.connections.repository
    scopes = [
        s
        for s in (await rig.db.run(repo.get, connection_id)).granted_scopes
        if s not in ("control_security", "read_odometer")
    ]
    await rig.db.run(
        lambda: repo.mark_synced(connection_id, rig.rentals._clock(), scopes, "active", "")
    )
    with pytest.raises(RentalBlocked) as info:
        await rig.rentals.start(rig.vehicles[TESLA], override_reason=PARKED)
    text = "\n".join(info.value.problems)
    assert (
        "Missing permission Control Security" in text and "Missing permission Read Odometer" in text
    )
    await rig.db.run(repo.set_status, connection_id, "expired", "Reconnect needed")
    with pytest.raises(RentalBlocked, match="connection is Expired, not Active"):
        await rig.rentals.start(rig.vehicles[TESLA], override_reason=PARKED)
    assert await rig.rentals.open_rentals() == []


async def test_second_rental_and_unconnected_car_are_blocked(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    first = await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    with pytest.raises(RentalBlocked, match=f"already in rental #{first.id}"):
        await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    with pytest.raises(RentalBlocked, match=r"not connected to Smartcar|no connection"):
        await rig.rentals.start(rig.vehicles[TESLA], override_reason=PARKED)


async def test_unlock_failure_keeps_check_in_open_for_retry_or_cancel(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    await rig.reader.refresh(rig.vehicles[FORD])  # fresh telemetry before the outage
    await rig.sim_faults(error_type="UPSTREAM", error_code="NO_RESPONSE")
    with pytest.raises(RentalStepFailed, match="Unlocking failed") as info:
        await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    rental = info.value.rental
    assert rental.state == RentalState.PRE_CONDITION_DOCUMENTED and "unlock failed" in rental.note
    assert audit(rig)[-1][:2] == ("unlock", "failed")
    await rig.sim_faults()
    active = await rig.rentals.unlock(rental.id)
    assert active.state == RentalState.RENTAL_ACTIVE
    with pytest.raises(Exception, match="only be cancelled before it is active"):
        await rig.rentals.cancel(active.id)


async def test_check_in_expires_and_relocks(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    await rig.reader.refresh(rig.vehicles[FORD])
    await rig.sim_faults(error_type="UPSTREAM", error_code="NO_RESPONSE")
    with pytest.raises(RentalStepFailed):
        await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    await rig.sim_faults()
    assert await rig.rentals.expire_due() == []
    rig.clock.advance(31 * 60)
    [expired_id] = await rig.rentals.expire_due()
    expired = await rig.rentals.get(expired_id)
    assert expired.state == RentalState.CHECK_IN_EXPIRED and expired.ended_at is not None


async def test_command_on_a_rented_car_needs_a_reason(rig: Rig):
    from app.services.rentals.service import ReasonRequired

    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    with pytest.raises(ReasonRequired, match="give a reason"):
        await rig.rentals.guarded_command(rig.vehicles[FORD], "lock")
    outcome = await rig.rentals.guarded_command(rig.vehicles[FORD], "lock", "customer asked")
    assert outcome.ok and outcome.lock is not None and outcome.lock.locked is True
    with rig.db.session() as s:
        assert (
            s.scalars(select(Command.reason).order_by(Command.id.desc())).first()
            == "customer asked"
        )


async def test_motion_unknown_blocks_until_the_operator_gives_a_reason(rig: Rig):
    """Issue #13 item 8: no speed reading used to count as "not moving" (Ready, then the
    unlock failed on a driving car). A car read only once (one position) still blocks,
    and a reason lets it through."""
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked")
    _, gate = await rig.rentals.check_gate(rig.vehicles[FORD])
    assert gate.problems == gate.overridable and "Motion unknown" in gate.problems[0]
    with pytest.raises(RentalBlocked, match="Motion unknown: this vehicle reports no speed"):
        await rig.rentals.start(rig.vehicles[FORD])
    with pytest.raises(RentalBlocked, match="Motion unknown"):
        await rig.rentals.start(rig.vehicles[FORD], override_reason="   ")
    assert await rig.rentals.open_rentals() == []
    rental = await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    assert rental.state == RentalState.RENTAL_ACTIVE and PARKED in rental.note


async def test_an_ev_returned_on_the_charger_checks_out_with_its_charging_port_open(rig: Rig):
    await rig.connect(TESLA)
    await rig.sim_state(TESLA, activity="parked", open_doors=[])
    rental = await rig.rentals.start(rig.vehicles[TESLA], override_reason=PARKED)
    await rig.sim_state(TESLA, activity="charging")  # plugged in: the port is open
    status = await rig.rentals.commands.read_lock_status(rig.vehicles[TESLA])
    assert status.open_doors == ("chargingPort",)
    done = await rig.rentals.check_out(rental.id)
    assert done.state == RentalState.COMPLETED
    assert (await rig.sim_state(TESLA))["locked"] is True


async def test_a_parked_smartcar_car_starts_without_a_reason(rig: Rig):
    """Smartcar reports no speed; the same position over ten minutes (a poll, then the
    gate's fresh read) says the car is parked, and the log says how that was judged."""
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked", locked=True, open_doors=[])
    await rig.reader.refresh(rig.vehicles[FORD])  # the regular poll
    rig.clock.advance(600)
    _, gate = await rig.rentals.check_gate(rig.vehicles[FORD])
    assert gate.ok, gate.problems
    assert re.fullmatch(r"Parked: same position since \d\d:\d\d UTC \(2 reads\)\.", gate.motion)
    rental = await rig.rentals.start(rig.vehicles[FORD])
    assert rental.state == RentalState.RENTAL_ACTIVE
    assert "Parked: same position since" in rental.note and "overrode" not in rental.note
    assert (await rig.sim_state(FORD))["locked"] is False


async def test_a_driving_smartcar_car_is_refused_even_with_a_reason(rig: Rig):
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked", locked=True)
    await rig.reader.refresh(rig.vehicles[FORD])
    await rig.sim_state(FORD, activity="driving")
    rig.clock.advance(180)  # three minutes at the simulator's 36 km/h: about 1.8 km
    with pytest.raises(RentalBlocked, match=r"Moving: [\d,]+ m in \d+ min") as blocked:
        await rig.rentals.start(rig.vehicles[FORD], override_reason=PARKED)
    assert "It is not unlocked remotely." in str(blocked.value)
    assert await rig.rentals.open_rentals() == []
    assert (await rig.sim_state(FORD))["locked"] is True
    assert audit(rig) == []
    refusal = await rig.rentals.command_refusal(rig.vehicles[FORD], "unlock")
    assert refusal is not None and re.fullmatch(
        r"the vehicle is moving \([\d,]+ m in \d+ min\); not unlocked", refusal
    )


def square_around(name: str, lon: float, lat: float, half_m: float) -> ZoneShape:
    per_lon, per_lat = metres_per_degree(lat)
    dx, dy = half_m / per_lon, half_m / per_lat
    ring = [(lon - dx, lat - dy), (lon + dx, lat - dy), (lon + dx, lat + dy), (lon - dx, lat + dy)]
    return ZoneShape(None, name, "parking", ring)


async def test_check_out_outside_every_parking_zone_is_refused_with_the_nearest(rig: Rig):
    assert rig.zones is not None
    await rig.connect(FORD)
    await rig.sim_state(FORD, activity="parked", locked=True, open_doors=[])
    rental = await rig.rentals.start(rig.vehicles[FORD], "booking 7", override_reason=PARKED)
    lat, lon = rental.start["latitude"], rental.start["longitude"]
    assert lat is not None and lon is not None
    depot = square_around("Depot", lon + 1000 / metres_per_degree(lat)[0], lat, 100.0)
    await rig.zones.add(depot)
    with pytest.raises(CheckoutBlocked) as blocked:
        await rig.rentals.check_out(rental.id)
    assert re.fullmatch(
        rf"Check-out blocked: {rental.fleet_number} is not in a parking zone "
        r"\(nearest: Depot, 9\d\d m\)\.",
        str(blocked.value),
    ), str(blocked.value)
    assert blocked.value.rental.state == RentalState.RENTAL_ACTIVE
    assert (await rig.sim_state(FORD))["locked"] is False  # not locked: the ride goes on
    await rig.zones.add(square_around("Kerb", lon, lat, 50.0))
    done = await rig.rentals.check_out(rental.id)
    assert done.state == RentalState.COMPLETED and done.end["latitude"] == pytest.approx(lat)
