"""Gateway connection handling over real localhost TCP, on the fake line protocol."""

from __future__ import annotations

import asyncio

import pytest

from app.integrations.iot.records import DecodeResult, LockState, RecordKind
from app.integrations.iot.sink import InMemorySink
from tests.unit.integrations.iot.fake_codec import LineCodec
from tests.unit.integrations.iot.gateway_helpers import (
    KNOWN,
    FailingSink,
    GatedSink,
    LineClient,
    running_gateway,
)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    """Poll a condition on the loop (never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_login_binds_identity_and_data_frames_are_stored_then_acked() -> None:
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        await client.send("POS,52.52,13.40,L")
        assert await client.line() == "ACK,POS"
        kinds = [(r.kind, r.device_id) for r in sink.records]
        assert kinds == [(RecordKind.LOGIN, KNOWN), (RecordKind.POSITION, KNOWN)]
        assert sink.records[1].lock_state is LockState.LOCKED
        assert gateway.is_online(KNOWN)
        stats = gateway.stats.snapshot()
        assert stats["connections"] == 1 and stats["records_stored"] == 2
        await client.close()
        await wait_until(lambda: not gateway.is_online(KNOWN))


@pytest.mark.asyncio
async def test_frames_split_across_reads_and_batched_in_one_read() -> None:
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        await client.send_raw(b"POS,1.0,2.0,-\nHB\nST,")
        assert [await client.line(), await client.line()] == ["ACK,POS", "ACK,HB"]
        await client.send_raw(b"U\n")
        assert await client.line() == "ACK,ST"
        assert sink.records[-1].lock_state is LockState.UNLOCKED
        await client.close()


@pytest.mark.asyncio
async def test_ack_is_written_only_after_store_returned() -> None:
    sink = GatedSink({(KNOWN, "line")})
    sink.release.set()
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        sink.release.clear()
        sink.entered.clear()
        try:
            await client.send("POS,52.5,13.4,L")
            await asyncio.wait_for(sink.entered.wait(), 5)
            assert client.no_data_waiting()  # store in progress: no ACK on the wire
            assert len(sink.records) == 1  # only the login so far
        finally:
            sink.release.set()  # never leave the gateway's store hanging, even on failure
        assert await client.line() == "ACK,POS"
        assert len(sink.records) == 2
        await client.close()


@pytest.mark.asyncio
async def test_unknown_device_is_reported_not_stored_and_can_be_claimed() -> None:
    sink = InMemorySink()
    stranger = "999000000000009"
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.send(f"ID,{stranger}", "POS,1.0,2.0,L")
        await sink.wait_for(
            lambda s: (stranger, "line") in s.unknown and s.unknown[(stranger, "line")].count == 2
        )
        entry = sink.unknown[(stranger, "line")]
        assert entry.address.startswith("127.0.0.1:") and entry.first_seen <= entry.last_seen
        assert sink.records == []
        assert client.no_data_waiting()  # neither the login nor the data was ACKed
        assert not gateway.is_online(stranger)
        sink.claim(stranger, "line")  # operator claims it; the device re-sends
        await client.send("POS,1.0,2.0,L")
        assert await client.line() == "ACK,POS"
        assert [r.device_id for r in sink.records] == [stranger]
        assert gateway.is_online(stranger)
        await client.close()


@pytest.mark.asyncio
async def test_garbage_closes_that_connection_while_a_good_one_keeps_being_served() -> None:
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        good = await LineClient.connect(gateway)
        await good.login()
        bad = await LineClient.connect(gateway)
        await bad.send_raw(b"\x00\xff\xfe garbage \x13\n")
        assert await bad.closed_by_server()
        await good.send("POS,1.0,2.0,L")
        assert await good.line() == "ACK,POS"
        assert gateway.stats.frame_errors == 1
        await bad.close()
        await good.close()


@pytest.mark.asyncio
async def test_oversized_frame_cuts_the_connection() -> None:
    async with running_gateway(max_frame=64) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        await client.send_raw(b"POS," + b"9" * 200)
        assert await client.closed_by_server()
        assert gateway.stats.frame_errors == 1
        await client.close()


@pytest.mark.asyncio
async def test_slow_sender_with_a_stalled_partial_frame_is_cut() -> None:
    async with running_gateway(partial_frame_timeout=0.2) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        await client.send_raw(b"POS,1.0,")
        assert await client.closed_by_server()
        assert gateway.stats.cuts == 1
        await client.close()


@pytest.mark.asyncio
async def test_connection_that_never_identifies_is_cut() -> None:
    async with running_gateway(identify_timeout=0.2) as gateway:
        client = await LineClient.connect(gateway)
        await client.send("HB")  # well-formed but says nothing about who it is
        assert await client.closed_by_server()
        assert gateway.stats.unidentified_frames == 1
        await client.close()


@pytest.mark.asyncio
async def test_idle_connection_is_cut() -> None:
    async with running_gateway(idle_timeout=0.2) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        assert await client.closed_by_server()
        await wait_until(lambda: gateway.stats.connections == 0)
        await client.close()


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.integrations.iot.store_batch",
    r"storing device records failed, will retry: database unavaila",
    level="ERROR",
)
async def test_failed_store_cuts_without_ack_and_gateway_keeps_running() -> None:
    sink = FailingSink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.send(f"ID,{KNOWN}")
        assert await client.closed_by_server()
        assert gateway.stats.store_errors == 1 and gateway.stats.acks_sent == 0
        await client.close()


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.integrations.iot.connection", r"line codec failed on a frame from", level="ERROR"
)
async def test_codec_bug_cuts_only_that_connection() -> None:
    class BuggyCodec(LineCodec):
        def decode(self, frame: bytes, *, device_id=None, strict=True) -> DecodeResult:
            if frame == b"BOOM":
                raise IndexError("codec bug")
            return super().decode(frame, device_id=device_id, strict=strict)

    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink, codec=BuggyCodec()) as gateway:
        client = await LineClient.connect(gateway)
        await client.send("BOOM")
        assert await client.closed_by_server()
        other = await LineClient.connect(gateway)
        await other.login()
        await client.close()
        await other.close()


@pytest.mark.asyncio
async def test_reconnect_replaces_the_old_session() -> None:
    async with running_gateway() as gateway:
        first = await LineClient.connect(gateway)
        await first.login()
        second = await LineClient.connect(gateway)
        await second.login()
        assert await first.closed_by_server()
        assert gateway.sessions[KNOWN].peer.endswith(
            str(second.writer.get_extra_info("sockname")[1])
        )
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_port_taken_raises_and_releases_other_ports() -> None:
    async with running_gateway() as gateway:
        from app.integrations.iot.gateway import GatewayConfig, IotGateway
        from tests.unit.integrations.iot.fake_codec import CODEC

        cfg = GatewayConfig(ports={"line": gateway.ports["line"]}, host="127.0.0.1")
        clash = IotGateway(cfg, InMemorySink(), codecs={"line": CODEC})
        with pytest.raises(OSError):
            await clash.start()


@pytest.mark.asyncio
async def test_close_does_not_hang_on_a_store_that_never_returns() -> None:
    sink = GatedSink({(KNOWN, "line")})  # never released
    async with running_gateway(sink, shutdown_grace=0.1) as gateway:
        client = await LineClient.connect(gateway)
        await client.send(f"ID,{KNOWN}")
        await asyncio.wait_for(sink.entered.wait(), 5)
    assert gateway.stats.connections == 0 and sink.records == []
    assert await client.closed_by_server()
    await client.close()


@pytest.mark.asyncio
async def test_an_identified_devices_bad_frame_is_shown_to_the_sink_then_cut() -> None:
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink, max_frame=64) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        await client.send_raw(b"POS,not-a-number\n")
        assert await client.closed_by_server()
        [(device_id, data, reason)] = sink.rejects
        assert (device_id, data) == (KNOWN, b"POS,not-a-number")
        assert reason.startswith("undecodable frame")
        oversized = await LineClient.connect(gateway)
        await oversized.login()
        await oversized.send_raw(b"POS," + b"9" * 200)  # a framing error: the read is shown
        assert await oversized.closed_by_server()
        assert sink.rejects[1][0] == KNOWN and sink.rejects[1][1].startswith(b"POS,999")
        assert sink.rejects[1][2].startswith("framing error")
        await client.close()
        await oversized.close()


@pytest.mark.asyncio
async def test_garbage_before_identification_reaches_no_device_log() -> None:
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.send_raw(b"\xff\xfe\n")
        assert await client.closed_by_server()
        assert sink.rejects == [] and gateway.stats.frame_errors == 1
        await client.close()


OTHER = "356000000000002"
POISON = 66.6  # a latitude the sink below refuses to store


class RefusingSink(GatedSink):
    """Holds a store while ``release`` is clear; refuses any batch with a POISON fix."""

    async def store(self, received) -> None:
        if any(r.latitude == POISON for read in received for r in read.records):
            raise ValueError("a record this sink cannot take")
        await super().store(received)


@pytest.mark.asyncio
@pytest.mark.expect_log("app.integrations.iot.store_batch", r"storing a batch of")
@pytest.mark.expect_log(
    "app.integrations.iot.store_batch",
    r"storing device records failed, will retry: a record this sin",
    level="ERROR",
)
async def test_a_batch_failing_on_one_device_still_stores_and_acks_the_others() -> None:
    sink = RefusingSink({(KNOWN, "line"), (OTHER, "line")})
    sink.release.set()
    async with running_gateway(sink) as gateway:
        good = await LineClient.connect(gateway)
        await good.login()
        bad = await LineClient.connect(gateway)
        await bad.login(OTHER)
        sink.release.clear()
        sink.entered.clear()
        try:
            await good.send("POS,1.0,2.0,L")
            await asyncio.wait_for(sink.entered.wait(), 5)  # this store is held...
            await good.send("POS,3.0,4.0,L")
            await bad.send(f"POS,{POISON},4.0,L")
            await wait_until(lambda: gateway.batcher.waiting == 2)  # ...these two queue up
        finally:
            sink.release.set()
        assert [await good.line(), await good.line()] == ["ACK,POS", "ACK,POS"]
        assert await bad.closed_by_server()  # no ACK: the device keeps its reading
        stored = [(r.device_id, r.latitude) for r in sink.records if r.kind is RecordKind.POSITION]
        assert stored == [(KNOWN, 1.0), (KNOWN, 3.0)]
        assert gateway.stats.store_errors == 1
        await good.close()
        await bad.close()


@pytest.mark.asyncio
@pytest.mark.expect_log("app.integrations.iot.store_batch", r"a store batch of", level="ERROR")
async def test_a_store_batch_crashing_after_the_store_cuts_and_the_next_read_is_stored(
    caplog,
) -> None:
    """A bug after the store (here the command tracker) must not leave the batch task
    dead with its connections paused or waiting for an ACK forever."""
    sink = InMemorySink({(KNOWN, "line")})
    async with running_gateway(sink) as gateway:
        client = await LineClient.connect(gateway)
        await client.login()
        real_observe = gateway.commands.observe
        calls = []

        def observe_crashing_once(record):
            calls.append(record)
            if len(calls) == 1:
                raise RuntimeError("a bug after the store")
            real_observe(record)

        gateway.commands.observe = observe_crashing_once
        await client.send("POS,1.0,1.0,L")
        assert await client.closed_by_server()  # cut: the device logs in again
        assert "a store batch of 1 reads crashed" in caplog.text
        await client.close()
        again = await LineClient.connect(gateway)
        await again.login()
        await again.send("POS,2.0,2.0,U")
        assert await again.line() == "ACK,POS"
        assert [r.latitude for r in sink.records if r.kind is RecordKind.POSITION] == [1.0, 2.0]
        await again.close()
