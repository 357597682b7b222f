"""The Unknown Devices dialog says when the bounded inbox refused new device ids."""

from __future__ import annotations

import pytest

from app.integrations.iot.simulator import SimDeviceSpec, start_device_simulator
from app.services.iot import ingest as iot_ingest
from tests.gui.iot_helpers import running_iot
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

STRANGERS = ("356938035643809", "356938035643817", "356938035643825")  # in no vehicle


@pytest.mark.expect_log("app.services.iot.ingest", r"unknown devices inbox full")
async def test_refused_strangers_are_counted_in_the_dialog(window, monkeypatch):
    monkeypatch.setattr(iot_ingest, "INBOX_MAX", 2)
    async with running_iot(window) as iot:
        specs = [SimDeviceSpec(imei, "omni", "scooter", 0.1) for imei in STRANGERS]
        sim = await start_device_simulator(iot.gateway.ports, specs, nmea_gps=False)
        try:
            await until(lambda: iot.ingest.inbox_refused >= 2, what="a stranger refused")
            window.iot.unknown_action.trigger()
            dialog = window.iot.dialog
            await until(lambda: dialog.refused.isVisible(), what="the refusals shown")
            assert dialog.table.rowCount() == 2
            assert "The list is full" in dialog.refused.text()
            assert "were refused" in dialog.refused.text()
        finally:
            await sim.stop()
