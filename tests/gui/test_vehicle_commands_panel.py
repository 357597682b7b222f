"""Remote Lock / Unlock in the detail panel, against the Smartcar simulator over localhost:
confirmation, in-flight state, read-back result, audit row, preconditions, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.config import DemoSettings, Settings, SmartcarSettings
from app.models.audit_queries import audit_rows
from app.models.rentals import RentalRepository
from app.services.rentals.service import OPEN_STATES
from tests.gui.connect_helpers import free_port
from tests.gui.test_rentals_views import report
from tests.helpers.dialog_fakes import answering
from tests.helpers.waiting import until
from tests.integration.integrations.smartcar.connect_walk import walk_connect

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    return Settings(
        demo=DemoSettings(cars=3, micromobility=1),
        smartcar=SmartcarSettings(api_version="2.0", redirect_uri=redirect),
    )


async def connected_car(window, sim, email: str = "o@x.test", **state):
    """Connect the first car through the real Connect flow and show it in the panel."""
    row = next(r for r in window.model.rows if r.kind == "car")
    service = window.context.connections
    redirect = await asyncio.to_thread(walk_connect, service.begin(row.id, row.vin), email=email)
    auth = await service.complete(redirect)
    await service.link(auth, (await service.plan(auth)).match)
    response = await sim.post(f"/_sim/vehicles/{row.vin}/state", json=state)
    response.raise_for_status()
    panel = window.operations.commands_panel
    await until(
        lambda: (
            (r := window.model.rows[window.model.position_of(row.id)]).connection_status == "active"
            and r
        ),
        what="the connection in the list",
    )
    assert window.select_vehicle(row.id)
    window.detail.show_vehicle(window.current_row())
    assert panel.isVisibleTo(window) and panel.row.id == row.id
    return row, panel


def audit(context):
    return [(r.action, r.state, r.reason) for r in audit_rows(context.database)]


async def test_lock_confirms_by_read_back_is_audited_and_updates_the_row(
    backends, sim, window, context, confirmations
):
    row, panel = await connected_car(window, sim, activity="parked", locked=False, open_doors=[])
    await sim.post("/_sim/faults", json={"delay_s": 0.3})  # keep the command in flight a while
    confirmations.answer = False
    panel.lock_button.click()
    await until(lambda: confirmations.asked, what="the confirmation")
    assert row.name in confirmations.asked[-1] and row.fleet_number in confirmations.asked[-1]
    assert panel.in_flight is None and audit(context) == []  # cancelled: nothing sent

    confirmations.answer = True
    panel.lock_button.click()
    await until(lambda: panel.lock_button.text() == "Locking…", what="in flight")
    assert not panel.lock_button.isEnabled() and not panel.unlock_button.isEnabled()
    await until(lambda: panel.status.text().startswith("Locked ✓"), timeout=20, what="result")
    assert (await sim.post(f"/_sim/vehicles/{row.vin}/state", json={})).json()["locked"] is True
    assert audit(context) == [("lock", "confirmed", "")]
    await until(lambda: window.current_row().locked is True, what="the list row")
    assert not panel.lock_button.isEnabled() and panel.unlock_button.isEnabled()
    assert panel.lock_button.text() == "Lock"


async def test_unlock_is_refused_while_the_car_moves(backends, sim, window, context):
    row, panel = await connected_car(window, sim, activity="driving", locked=True)
    # The console's own precondition: a fresh reading with speed refuses before sending.
    report(context, row.id, speed=30.0)
    panel.unlock_button.click()
    await until(lambda: panel.status.text().startswith("Failed:"), what="refusal")
    assert "moving (30 km/h)" in panel.status.text() and audit(context) == []
    # Without a speed reading the car itself refuses (IN_MOTION), and the attempt is audited.
    report(context, row.id, speed=0.0)
    panel.unlock_button.click()
    await until(lambda: len(audit(context)) == 1, timeout=20, what="the audited attempt")
    await until(lambda: "IN_MOTION" in panel.status.text(), what="the car's refusal shown")
    assert audit(context)[0][:2] == ("unlock", "failed")
    assert (await sim.post(f"/_sim/vehicles/{row.vin}/state", json={})).json()["locked"] is True


async def test_unlock_of_a_car_with_unknown_motion_says_so_in_the_question(
    backends, sim, window, context, confirmations
):
    """Smartcar reports no speed and the car has not stood long enough to be judged: the
    manual unlock is allowed (the operator decides), but the question says so."""
    _, panel = await connected_car(window, sim, activity="parked", locked=True, open_doors=[])
    confirmations.answer = False
    panel.unlock_button.click()
    await until(lambda: confirmations.asked, what="the confirmation")
    assert "Motion unknown: " in confirmations.asked[-1]
    assert confirmations.asked[-1].endswith("Make sure it is parked.")
    assert audit(context) == []  # cancelled: nothing sent


async def test_a_car_in_a_rental_asks_for_a_reason(backends, sim, window, context):
    row, panel = await connected_car(window, sim, activity="parked", locked=False, open_doors=[])
    now = datetime.now(UTC)
    RentalRepository(context.database).open(
        row.id,
        state="rental_active",
        open_states=OPEN_STATES,
        operator="someone else",
        customer_ref="booking 7",
        now=now,
        deadline=now + timedelta(hours=1),
    )
    asked: list[str] = []
    panel.prompt = answering(None, asked)
    panel.lock_button.click()
    await until(lambda: asked, what="the reason prompt")
    assert "booking 7" in asked[0]
    await until(lambda: panel.status.text() == "Cancelled: no reason given", what="cancel")
    assert audit(context) == []

    panel.prompt = answering("customer left it open")
    panel.lock_button.click()
    await until(lambda: panel.status.text().startswith("Locked ✓"), timeout=20, what="locked")
    assert audit(context) == [("lock", "confirmed", "customer left it open")]


async def test_a_failing_car_shows_the_reason(backends, sim, window, context):
    row, panel = await connected_car(window, sim, activity="parked", locked=True)
    await sim.post("/_sim/faults", json={"error_type": "VEHICLE_STATE", "error_code": "ASLEEP"})
    panel.unlock_button.click()
    await until(lambda: panel.status.text().startswith("Failed:"), timeout=20, what="failure")
    assert "ASLEEP" in panel.status.text()
    assert audit(context) == [("unlock", "failed", "")]
    assert panel.unlock_button.text() == "Unlock" and panel.in_flight is None
    await sim.post("/_sim/faults", json={})
    assert (await sim.post(f"/_sim/vehicles/{row.vin}/state", json={})).json()["locked"] is True
