"""Simulated fleet <-> gateway over real TCP, with the real codecs; GPS pty -> serial reader."""

from __future__ import annotations

import asyncio
import socket

import pytest

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.records import RecordKind
from app.integrations.iot.serial_reader import SerialConfig, SerialReader, SerialStatus
from app.integrations.iot.simulator import default_fleet, start_device_simulator
from app.integrations.iot.sink import InMemorySink
from app.models.enums import CommandState

PROTOCOLS = ("omni", "gl200", "teltonika", "gt06", "segway")


def positions_by_device(sink: InMemorySink) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in sink.records:
        if record.kind is RecordKind.POSITION and record.valid_fix and record.device_id:
            counts[record.device_id] = counts.get(record.device_id, 0) + 1
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_every_simulated_device_reports_and_obeys_lock_and_unlock() -> None:
    specs = default_fleet(10, seed=7, report_interval=0.05, protocols=PROTOCOLS)
    sink = InMemorySink({(s.device_id, s.protocol) for s in specs})
    cfg = GatewayConfig(ports={p: 0 for p in PROTOCOLS}, host="127.0.0.1")
    async with IotGateway(cfg, sink) as gateway:
        sim = await start_device_simulator(gateway.ports, specs, nmea_gps=False)
        try:
            await sink.wait_for(
                lambda s: all(positions_by_device(s).get(d.device_id, 0) >= 2 for d in specs),
                timeout=15,
            )
            assert sink.unknown == {}
            for record in sink.records:
                if record.kind is RecordKind.POSITION:
                    assert 52.3 < record.latitude < 52.7 and 13.2 < record.longitude < 13.6
            for action in ("unlock", "lock"):
                handles = [await gateway.send_command(s.device_id, action) for s in specs]
                states = await asyncio.gather(*(h.wait(timeout=10) for h in handles))
                assert states == [CommandState.CONFIRMED] * len(specs), handles
                for spec in specs:
                    device = sim.devices[spec.device_id]
                    assert device.vehicle.locked is (action == "lock")
                    assert device.commands_obeyed[-1] == action
            assert {s.protocol for s in specs} == set(PROTOCOLS)
        finally:
            await sim.stop()


@pytest.mark.asyncio
async def test_devices_reconnect_with_backoff_when_the_gateway_comes_up_late() -> None:
    specs = default_fleet(4, seed=3, report_interval=0.05, protocols=PROTOCOLS)
    ports = {p: free_port() for p in PROTOCOLS}
    sim = await start_device_simulator(
        ports, specs, nmea_gps=False, reconnect_initial=0.02, reconnect_max=0.1
    )
    sink = InMemorySink(accept_all=True)
    try:
        cfg = GatewayConfig(ports=ports, host="127.0.0.1")
        async with IotGateway(cfg, sink) as gateway:
            await sim.wait_connected(timeout=10)
            await sink.wait_for(lambda s: len(positions_by_device(s)) == len(specs), timeout=10)
            assert all(gateway.is_online(s.device_id) for s in specs)
        # the gateway restarts: every device notices, backs off and comes back by itself
        async with IotGateway(cfg, sink) as gateway:
            async with asyncio.timeout(10):
                while not all(gateway.is_online(d) for d in sim.devices):
                    await asyncio.sleep(0.01)
        assert all(device.connections >= 2 for device in sim.devices.values())
    finally:
        await sim.stop()


@pytest.mark.asyncio
async def test_simulated_nmea_gps_reaches_the_sink_through_the_serial_reader(tmp_path) -> None:
    sim = await start_device_simulator(
        {}, [], nmea_gps=True, gps_interval=0.02, gps_link=tmp_path / "ttyGPS"
    )
    sink = InMemorySink({("gps-1", "nmea")})
    reader = SerialReader(
        SerialConfig(port=sim.gps_path, device_id="gps-1", protocol="nmea", read_timeout=0.05), sink
    )
    try:
        await reader.start()
        await reader.wait_status(SerialStatus.CONNECTED)
        await sink.wait_for(lambda s: sum(r.valid_fix for r in s.records) >= 3, timeout=10)
        fix = next(r for r in sink.records if r.valid_fix)
        assert fix.device_id == "gps-1" and 52.3 < fix.latitude < 52.7
    finally:
        await reader.stop()
        await sim.stop()
