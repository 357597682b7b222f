"""Detail readouts: values with ages, psi beside kPa, stale marking, waiting for data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from shiboken6 import isValid

from app.views import formatting as fmt
from app.views.telemetry_readouts import Stamped, TelemetryReadouts, kpa_with_psi
from tests.gui.telemetry_data import reading, store
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def test_kpa_shows_psi_alongside():
    assert kpa_with_psi(240.0) == "240 kPa (34.8 psi)"


def test_values_ages_stale_marks_and_waiting(qtbot):
    readouts = TelemetryReadouts(stale_after=timedelta(minutes=30))
    qtbot.addWidget(readouts)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    fresh, old = now - timedelta(minutes=12), now - timedelta(hours=3)
    readouts.show_latest(
        {
            "location": Stamped((52.52, 13.405), fresh),
            "energy": Stamped(54.0, fresh),
            "odometer": Stamped(12_345.0, old),
            "locked": Stamped(False, fresh),
            "doors": Stamped({"frontLeft": "CLOSED", "trunk": "OPEN"}, fresh),
            "tires": Stamped({"frontLeft": 230.0, "backRight": 250.0}, fresh),
        },
        now=now,
    )
    assert readouts.text("energy") == "54 %\n12 min ago"
    assert readouts.text("odometer") == "12,345 km\n3 h ago — stale"
    assert readouts.is_stale("odometer") and not readouts.is_stale("energy")
    assert readouts.text("locked").startswith("Unlocked")
    assert "Front left: closed" in readouts.text("doors")
    assert "Trunk: open" in readouts.text("doors")
    assert "Front left: 230 kPa (33.4 psi)" in readouts.text("tires")
    assert "Rear right: 250 kPa (36.3 psi)" in readouts.text("tires")
    assert readouts.text("range") == fmt.WAITING
    assert readouts.text("oil_life") == fmt.WAITING
    assert readouts.text("charging") == fmt.WAITING  # not reported: no guess
    assert readouts.mini_map.position == (52.52, 13.405)
    readouts.show_latest(None)
    assert all(readouts.text(k) == fmt.WAITING for k, _ in (("energy", 0), ("doors", 0)))
    assert readouts.mini_map.position is None


async def test_detail_panel_loads_the_stored_latest_state(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    now = datetime.now(UTC)
    store(
        window.context,
        [
            reading(car.id, now - timedelta(hours=2), odometer=4321.0),
            reading(
                car.id,
                now - timedelta(minutes=5),
                lat=52.5,
                lon=13.4,
                fuel=61.0,
                range=420.0,
                locked=True,
                doors={"frontLeft": "CLOSED"},
                tires_kpa={"frontLeft": 240.0},
                oil_life=70.0,
                charging=True,
            ),
        ],
    )
    readouts = window.detail.readouts
    window.select_vehicle(car.id)
    await until(lambda: readouts.text("energy") != fmt.WAITING, 10, "the readouts")
    assert readouts.text("energy") == "61 %\n5 min ago"
    assert readouts.text("range") == "420 km\n5 min ago"
    assert readouts.text("odometer") == "4,321 km\n2 h ago — stale"  # 30 min by default
    assert readouts.text("locked") == "Locked\n5 min ago"
    assert readouts.text("tires").startswith("Front left: 240 kPa (34.8 psi)")
    assert readouts.text("oil_life") == "70 %\n5 min ago"
    assert readouts.text("charging") == "Charging\n5 min ago"
    other = next(r for r in window.model.rows if r.id != car.id)
    window.select_vehicle(other.id)
    assert readouts.text("energy") == fmt.WAITING  # cleared at once, not the old car's


async def test_a_load_that_ends_after_the_panel_was_deleted_is_dropped():
    """Seen as "Task exception was never retrieved ... QLabel already deleted" when a
    window closed while the selected vehicle's readings were still loading."""
    release = asyncio.Event()

    async def loader(_vehicle_id: int) -> None:
        await release.wait()

    readouts = TelemetryReadouts()
    readouts.set_loader(loader)
    readouts.show_vehicle(7)
    task = readouts._task
    assert task is not None
    readouts.deleteLater()
    await until(lambda: not isValid(readouts), what="the panel deleted by Qt")
    release.set()
    await task  # raised RuntimeError (a deleted QLabel) before the fix
