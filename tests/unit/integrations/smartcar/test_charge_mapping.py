"""Smartcar's /charge answer becomes the store's charging flag; only plug-in cars ask for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.smartcar.client import SNAPSHOT_KINDS, snapshot_kinds
from app.integrations.smartcar.models import DataKind, ResponseMeta, VehicleSnapshot
from app.integrations.smartcar.v2_reader import parse
from app.services.telemetry.snapshot_readings import snapshot_readings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("plugged", "state", "charging"),
    [
        (True, "CHARGING", True),
        (True, "FULLY_CHARGED", False),  # on the cable but ready to go
        (False, "NOT_CHARGING", False),
        (True, "SOMETHING_NEW", None),  # a state we do not know is not guessed
    ],
)
def test_charge_state_maps_to_the_charging_flag(plugged, state, charging):
    body = {"isPluggedIn": plugged, "state": state}
    charge = parse(DataKind.CHARGE, body, ResponseMeta()).value
    readings = snapshot_readings(VehicleSnapshot("sc-1", "req-1", charge=charge), 7, NOW)
    if charging is None:
        assert readings == []
    else:
        [reading] = readings
        assert reading.charging is charging and reading.recorded_at == NOW


def test_only_plug_in_cars_that_granted_read_charge_read_it():
    granted = ("read_battery", "read_charge")
    assert snapshot_kinds("bev", granted) == (*SNAPSHOT_KINDS, DataKind.CHARGE)
    assert snapshot_kinds("phev", granted)[-1] is DataKind.CHARGE
    assert snapshot_kinds("ice", granted) == SNAPSHOT_KINDS
    assert snapshot_kinds(None, granted) == SNAPSHOT_KINDS
    assert snapshot_kinds("bev", ("read_battery",)) == SNAPSHOT_KINDS
