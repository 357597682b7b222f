"""Simulated JT/T 808 terminals <-> the real gateway over TCP: register, report, obey commands."""

from __future__ import annotations

import asyncio

import pytest

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.records import LockState, RecordKind
from app.integrations.iot.simulator import default_fleet, start_device_simulator
from app.integrations.iot.sink import InMemorySink
from app.models.enums import CommandState


@pytest.mark.asyncio
async def test_jt808_terminals_register_report_and_obey_lock_unlock_locate() -> None:
    specs = default_fleet(3, seed=11, report_interval=0.05, protocols=("jt808",))
    sink = InMemorySink({(s.device_id, s.protocol) for s in specs})
    cfg = GatewayConfig(ports={"jt808": 0}, host="127.0.0.1")
    async with IotGateway(cfg, sink) as gateway:
        sim = await start_device_simulator(gateway.ports, specs, nmea_gps=False)
        try:

            def reported(s: InMemorySink) -> bool:
                ids = {r.device_id for r in s.records if r.kind is RecordKind.POSITION}
                return ids >= {d.device_id for d in specs}

            await sink.wait_for(reported, timeout=15)
            assert sink.unknown == {}
            logins = {r.device_id for r in sink.records if r.kind is RecordKind.LOGIN}
            assert logins == {s.device_id for s in specs}  # 0x0100 and 0x0102 both arrived
            fix = next(r for r in sink.records if r.kind is RecordKind.POSITION)
            assert 52.3 < fix.latitude < 52.7 and fix.battery_pct is not None
            for action in ("unlock", "lock", "locate"):
                handles = [await gateway.send_command(s.device_id, action) for s in specs]
                states = await asyncio.gather(*(h.wait(timeout=10) for h in handles))
                assert states == [CommandState.CONFIRMED] * len(specs), handles
                for spec in specs:
                    assert sim.devices[spec.device_id].commands_obeyed[-1] == action
            for spec in specs:
                assert sim.devices[spec.device_id].vehicle.locked is True
                last = [r for r in sink.records if r.device_id == spec.device_id][-1]
                assert last.lock_state is LockState.LOCKED
        finally:
            await sim.stop()
