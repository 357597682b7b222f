"""The "Unknown devices" view: a stranger device is listed, then claimed into a new vehicle."""

from __future__ import annotations

import pytest

from app.integrations.iot.simulator import SimDeviceSpec, start_device_simulator
from app.views.iot_actions import UNKNOWN_DEVICES_SHORTCUT
from app.views.iot_unknown_dialog import NEW_VEHICLE
from tests.gui.iot_helpers import running_iot
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

STRANGER = "356938035643809"  # a valid IMEI no demo vehicle has


async def test_an_unknown_device_is_listed_and_claimed_into_a_new_vehicle(window):
    async with running_iot(window) as iot:
        await listed_then_claimed(window, iot)


async def listed_then_claimed(window, iot) -> None:
    sim = await start_device_simulator(
        iot.gateway.ports, [SimDeviceSpec(STRANGER, "omni", "scooter", 0.1)], nmea_gps=False
    )
    try:
        assert window.iot.unknown_action.shortcut().toString() == UNKNOWN_DEVICES_SHORTCUT
        window.iot.unknown_action.trigger()
        dialog = window.iot.dialog
        assert dialog is not None and dialog.isVisible()
        await until(lambda: dialog.table.rowCount() == 1, what="the stranger in the list")
        assert dialog.table.item(0, 0).text() == STRANGER
        assert dialog.table.item(0, 1).text() == "omni"
        assert dialog.table.item(0, 2).text().startswith("127.0.0.1:")
        await until(lambda: int(dialog.table.item(0, 5).text()) >= 2, what="the count growing")

        dialog.table.selectRow(0)
        assert dialog.claim_button.isEnabled()
        dialog.target.setCurrentIndex(dialog.target.findData(NEW_VEHICLE))
        add = dialog.claim()
        assert add is not None
        assert add.imei.text() == STRANGER
        assert add.connection.currentData() == "iot" and add.vendor.currentText() == "Omni"
        add.name.setText("Omni stray")
        add.fleet_number.setText("S-777")
        add.save()
        await until(
            lambda: "now belongs" in dialog.status.text(),
            what=f"the claim outcome ({dialog.status.text()!r}, {add.status.text()!r})",
        )
        await until(lambda: dialog.table.rowCount() == 0, what="the inbox emptied")

        def claimed_row():
            return next((r for r in window.model.rows if r.imei == STRANGER), None)

        await until(lambda: claimed_row() is not None, what="the new vehicle in the list")
        row = claimed_row()
        assert row.connection_type == "iot" and row.iot_vendor == "Omni"
        await until(
            lambda: claimed_row().battery_pct is not None, 10, "its reports reaching the list"
        )
        assert iot.ingest.device_for_vehicle(row.id).protocol == "omni"
    finally:
        await sim.stop()
