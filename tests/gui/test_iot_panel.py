"""The IoT device panel: device info, live frames, and Lock/Unlock with confirmation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs.teltonika_build import (
    AvlSample,
    build_avl_packet,
    build_imei_handshake,
)
from app.models.command_audit import CommandAudit
from app.models.enums import CommandState
from tests.gui.iot_helpers import running_iot
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def iot_rows(window):
    return [r for r in window.model.rows if r.connection_type == "iot" and r.kind != "car"]


async def test_the_panel_shows_the_device_and_its_live_frames(window):
    async with running_iot(window) as iot:
        await panel_shows_device_and_frames(window, iot)


async def test_lock_asks_shows_the_command_in_flight_then_confirmed(window, confirmations):
    async with running_iot(window) as iot:
        await lock_is_confirmed(window, iot, confirmations)


async def panel_shows_device_and_frames(window, iot) -> None:
    panel = window.iot.panel
    car = next(r for r in window.model.rows if r.kind == "car" and r.connection_type != "iot")
    window.select_vehicle(car.id)
    assert not panel.isVisibleTo(window)

    row = iot_rows(window)[0]
    device = iot.ingest.device_for_vehicle(row.id)
    window.select_vehicle(row.id)
    assert panel.isVisibleTo(window)
    await until(lambda: panel.values["protocol"].text() == device.protocol, what="device info")
    assert panel.values["device_id"].text() == device.device_id == row.imei
    assert panel.values["vendor"].text() == row.iot_vendor
    await until(lambda: panel.values["online"].text() == "Online", what="online")
    await until(lambda: panel.frame_log.count() >= 2, what="frames in the log")
    assert panel.values["address"].text().startswith("127.0.0.1:")
    newest = panel.frame_log.item(0).text()
    assert "←" in newest and "[" in newest  # direction and decode status
    before = panel.frame_log.count()
    await until(lambda: panel.frame_log.count() > before, what="a new frame arriving live")


async def lock_is_confirmed(window, iot, confirmations) -> None:
    panel = window.iot.panel
    row = iot_rows(window)[0]
    # the list row learns the lock state from the device's reports (writer observer)
    await until(lambda: _row(window, row.id).locked is not None, what="the row's lock state")
    row = _row(window, row.id)
    action = "unlock" if row.locked else "lock"
    other = "lock" if action == "unlock" else "unlock"
    window.select_vehicle(row.id)
    await until(lambda: panel.buttons[action].isEnabled(), what="the button enabled")
    assert not panel.buttons[other].isEnabled()
    assert panel.buttons[other].toolTip().startswith("Already")

    seen_in_flight: list[tuple[str, bool]] = []

    def watch(event) -> None:
        if event.state is CommandState.SENT:
            button = panel.buttons[action]
            seen_in_flight.append((button.text(), button.isEnabled()))

    iot.commands.events.subscribe(watch)
    confirmations.answer = False
    panel.buttons[action].click()
    await until(lambda: confirmations.asked, what="the confirmation")
    assert f"{row.name} [{row.fleet_number}]" in confirmations.asked[0]
    assert iot.commands.latest.get(row.id) is None  # cancelled: nothing sent

    confirmations.answer = True
    panel.buttons[action].click()
    await until(lambda: "confirmed" in panel.outcome.text(), 15, "the confirmed outcome")
    busy = "Locking…" if action == "lock" else "Unlocking…"
    assert seen_in_flight == [(busy, False)]
    await until(
        lambda: _row(window, row.id).locked is (action == "lock"), 10, "the row's new state"
    )
    await until(lambda: not panel.buttons[action].isEnabled(), what="now already in that state")
    assert panel.buttons[other].isEnabled()
    await iot.commands.drain()
    db = window.context.database
    [audit] = await db.run(CommandAudit(db).for_vehicle, row.id)
    assert (audit.action, audit.state, audit.channel) == (action, "confirmed", "iot")


def _row(window, vehicle_id):
    return window.model.rows[window.model.position_of(vehicle_id)]


async def test_a_bad_frame_from_the_shown_device_is_listed_as_rejected(window):
    async with running_iot(window) as iot:
        panel = window.iot.panel
        row, device = next(
            (r, d)
            for r in iot_rows(window)
            if (d := iot.ingest.device_for_vehicle(r.id)) and d.protocol == "teltonika"
        )
        window.select_vehicle(row.id)
        # the device logs in on a new connection (real Teltonika frames over TCP), then
        # garbles one
        port = iot.gateway.ports["teltonika"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(build_imei_handshake(device.device_id))
            assert await asyncio.wait_for(reader.readexactly(1), 5) == b"\x01"  # accepted
            sample = AvlSample(datetime.now(UTC), 52.5, 13.4, 10.0, 90.0)
            bad = bytearray(build_avl_packet([sample]))
            bad[-1] ^= 0xFF  # a CRC the packet's bytes do not give
            writer.write(bytes(bad))
            assert await asyncio.wait_for(reader.read(), 5) == b""  # cut, not acknowledged

            def rejected() -> list[str]:
                lines = [panel.frame_log.item(i).text() for i in range(panel.frame_log.count())]
                return [line for line in lines if "[rejected: undecodable frame" in line]

            await until(lambda: rejected(), what="the rejected frame in the panel's log")
            assert bytes(bad).hex(" ") in rejected()[0]  # shown byte for byte, as hex
        finally:
            writer.close()
