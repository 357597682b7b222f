"""Command lifecycle through the gateway: queued -> sent -> acknowledged -> confirmed."""

from __future__ import annotations

import pytest

from app.integrations.iot.commands import CommandTimeouts, CommandUpdate
from app.models.enums import CommandState
from tests.unit.integrations.iot.gateway_helpers import KNOWN, LineClient, running_gateway

S = CommandState


@pytest.mark.asyncio
async def test_lock_goes_sent_acknowledged_confirmed_and_listeners_see_every_step() -> None:
    async with running_gateway() as gateway:
        seen: list[CommandUpdate] = []
        gateway.commands.changes.subscribe(seen.append)
        client = await LineClient.connect(gateway)
        await client.login()
        handle = await gateway.send_command(KNOWN, "lock")
        assert handle.state is S.SENT
        assert await client.line() == f"CMD,{handle.command_id},lock"
        await client.send("RES,ok,locked")
        assert await client.line() == "ACK,RES"
        assert handle.state is S.ACKNOWLEDGED
        await client.send("ST,U")  # still unlocked: not confirmed yet
        assert await client.line() == "ACK,ST"
        assert handle.state is S.ACKNOWLEDGED
        await client.send("ST,L")
        assert await handle.wait(timeout=5) is S.CONFIRMED
        assert [u.state for u in seen] == [S.QUEUED, S.SENT, S.ACKNOWLEDGED, S.CONFIRMED]
        assert {u.protocol for u in seen[1:]} == {"line"}
        await client.close()


@pytest.mark.asyncio
async def test_command_for_offline_device_is_queued_and_sent_after_login_ack() -> None:
    async with running_gateway() as gateway:
        handle = await gateway.send_command(KNOWN, "unlock")
        assert handle.state is S.QUEUED
        assert gateway.commands.pending(KNOWN) == [handle]
        client = await LineClient.connect(gateway)
        await client.send(f"ID,{KNOWN}")
        assert await client.line() == "OK"  # login ACK first, then the queued command
        assert await client.line() == f"CMD,{handle.command_id},unlock"
        assert handle.state is S.SENT and gateway.commands.pending(KNOWN) == []
        await client.send("POS,1.0,2.0,U")  # a report showing the state confirms it
        assert await handle.wait(timeout=5) is S.CONFIRMED
        await client.close()


@pytest.mark.asyncio
async def test_locate_is_confirmed_by_the_answer_alone() -> None:
    async with running_gateway() as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        handle = await gateway.send_command(KNOWN, "locate")
        await client.line()
        await client.send("RES,ok,beep")
        assert await handle.wait(timeout=5) is S.CONFIRMED
        assert [u.state for u in handle.history][-2:] == [S.ACKNOWLEDGED, S.CONFIRMED]
        await client.close()


@pytest.mark.asyncio
async def test_device_refusal_fails_the_command() -> None:
    async with running_gateway() as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        handle = await gateway.send_command(KNOWN, "unlock")
        await client.line()
        await client.send("RES,fail,battery-low")
        assert await handle.wait(timeout=5) is S.FAILED
        assert "battery-low" in handle.detail
        await client.close()


@pytest.mark.asyncio
async def test_unsupported_action_fails_instead_of_blocking_the_queue() -> None:
    async with running_gateway() as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        bad = await gateway.send_command(KNOWN, "self-destruct")
        good = await gateway.send_command(KNOWN, "lock")
        assert bad.state is S.FAILED and "cannot" in bad.detail
        assert good.state is S.SENT
        assert await client.line() == f"CMD,{good.command_id},lock"
        await client.close()


@pytest.mark.asyncio
async def test_timeouts_in_each_state() -> None:
    timeouts = CommandTimeouts(queued=0.1, sent=0.1, acknowledged=0.1)
    async with running_gateway(command_timeouts=timeouts) as gateway:
        offline = await gateway.send_command("356000000000777", "lock")
        assert await offline.wait(timeout=5) is S.TIMED_OUT
        assert gateway.commands.pending("356000000000777") == []
        client = await LineClient.connect(gateway)
        await client.login()
        silent = await gateway.send_command(KNOWN, "lock")
        assert await silent.wait(timeout=5) is S.TIMED_OUT
        assert "sent" in silent.detail
        answered = await gateway.send_command(KNOWN, "unlock")
        await client.line()
        await client.line()
        await client.send("RES,ok,unlocked")  # answers, but never reports the new state
        assert await answered.wait(timeout=5) is S.TIMED_OUT
        assert [u.state for u in answered.history] == [
            S.QUEUED,
            S.SENT,
            S.ACKNOWLEDGED,
            S.TIMED_OUT,
        ]
        await client.close()
