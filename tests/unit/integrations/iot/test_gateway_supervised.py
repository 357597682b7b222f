"""The gateway's idle sweeper runs under the console's supervisor: a crash is restarted."""

from __future__ import annotations

import asyncio

import pytest

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.sink import InMemorySink
from app.services.tasks import TaskOwner
from tests.helpers.waiting import until
from tests.unit.integrations.iot.fake_codec import CODEC


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task iot\-gateway\-sweep crashed", level="ERROR"
)
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-gateway\-sweep restarts in")
async def test_a_crashing_sweep_is_restarted_and_reported(monkeypatch):
    slept: list[float] = []

    async def no_backoff(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    owner = TaskOwner(sleep=no_backoff)
    cfg = GatewayConfig(ports={"line": 0}, host="127.0.0.1", idle_timeout=0.08)
    gateway = IotGateway(cfg, InMemorySink(), codecs={"line": CODEC}, spawn=owner.spawn)
    sweeps: list[int] = []
    real_sweep = gateway._sweep

    async def sweep_crashing_once() -> None:
        sweeps.append(1)
        if len(sweeps) == 1:
            raise RuntimeError("sweep bug")
        await real_sweep()

    monkeypatch.setattr(gateway, "_sweep", sweep_crashing_once)
    await gateway.start()
    try:
        await until(lambda: len(sweeps) == 2, what="the sweeper restarted")
        assert owner.running == ["iot-gateway-sweep"] and owner.restarts == 1
        assert slept == [1.0]
    finally:
        await gateway.close()
    assert owner.running == []  # close() stops it, through the owner's bookkeeping
