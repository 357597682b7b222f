"""IoT commands: what a device may be told, refusals, and the audit trail of a command."""

from __future__ import annotations

import asyncio
import getpass
import socket

import pytest

from app.integrations.iot.commands import CommandTimeouts
from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.models.command_audit import CommandAudit
from app.models.enums import CommandState
from app.models.orm import IotDevice
from app.services.iot.commands import IotCommandRefused, IotCommandService, codec_actions
from tests.unit.services.iot.conftest import IMEI_A, IMEI_B


def test_codec_actions_come_from_the_codecs_themselves():
    assert codec_actions("nmea") == ()
    assert {"lock", "unlock"} <= set(codec_actions("gt06"))
    assert codec_actions("no-such-protocol") == ()
    assert codec_actions("segway") == ("lock", "unlock", "locate", "alarm")


@pytest.mark.asyncio
async def test_an_offline_devices_command_is_audited_until_it_times_out(rig):
    config = GatewayConfig(
        ports={"omni": 0}, host="127.0.0.1", command_timeouts=CommandTimeouts(queued=0.05)
    )
    async with IotGateway(config, rig.ingest) as gateway:
        commands = IotCommandService(rig.db, gateway, rig.ingest)
        vehicle_id = rig.vehicles[IMEI_A]
        seen = []
        commands.events.subscribe(seen.append)
        assert commands.allowed_actions(vehicle_id) == ("lock", "unlock", "locate", "alarm")
        with pytest.raises(IotCommandRefused, match="no registered IoT device"):
            await commands.send(rig.vehicles["spare"], "lock")
        with pytest.raises(IotCommandRefused, match="cannot 'open_trunk'"):
            await commands.send(vehicle_id, "open_trunk")

        writer = asyncio.get_running_loop().create_task(commands.run())
        try:
            handle = await commands.send(vehicle_id, "lock", reason="end of rental")
            assert handle.state is CommandState.QUEUED  # the device is offline
            assert commands.latest[vehicle_id] is handle
            assert await handle.wait(timeout=5) is CommandState.TIMED_OUT
            await commands.drain()
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            commands.close()
    [audit] = await rig.db.run(CommandAudit(rig.db).for_vehicle, vehicle_id)
    assert (audit.action, audit.channel, audit.state) == ("lock", "iot", "timed_out")
    assert audit.error == "no progress while queued" and audit.reason == "end of rental"
    assert (audit.actor_user, audit.actor_host) == (getpass.getuser(), socket.gethostname())
    assert [e.state for e in seen] == [CommandState.QUEUED, CommandState.TIMED_OUT]
    assert rig.ingest.frames.entries(IMEI_A)[0].status.startswith("timed_out")


@pytest.mark.asyncio
async def test_a_vendor_profile_limits_the_codecs_actions(rig):
    with rig.db.session() as session:
        device = session.query(IotDevice).filter_by(device_id=IMEI_B).one()
        device.vendor, device.protocol = "Concox", "gt06"
    await rig.ingest.refresh()
    async with IotGateway(GatewayConfig(ports={"gt06": 0}, host="127.0.0.1"), rig.ingest) as gw:
        commands = IotCommandService(rig.db, gw, rig.ingest)
        allowed = commands.allowed_actions(rig.vehicles[IMEI_B])
        assert allowed == ("lock", "unlock")  # Concox offers no locate
        with pytest.raises(IotCommandRefused, match="Concox gt06 device cannot 'locate'"):
            await commands.send(rig.vehicles[IMEI_B], "locate")
        commands.close()
