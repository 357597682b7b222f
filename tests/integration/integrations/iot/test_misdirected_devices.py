"""Devices on the wrong port, over real TCP into the real gateway and codecs.

A GT06 tracker set to the Teltonika port is named ("looks like GT06 on the Teltonika
port ...") in the log and the unknown-devices inbox, nothing of it is stored, and its
connection is closed; the Teltonika devices on the same gateway keep storing. Bytes that
say nothing keep today's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs.teltonika_build import build_avl_packet, build_imei_handshake
from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.records import RecordKind
from app.integrations.iot.sink import InMemorySink

TELTONIKA_IMEI = "356307042441013"
GT06_IMEI = "864717003283581"
GT06_LOGIN = bytes.fromhex("78780D01086471700328358100093F040D0A")  # corpus gt06.jsonl line 2
CONNECTION_LOG = "app.integrations.iot.connection"


@contextlib.asynccontextmanager
async def gateway_with(sink: InMemorySink):
    cfg = GatewayConfig(ports={"teltonika": 0, "gt06": 0}, host="127.0.0.1")
    async with IotGateway(cfg, sink) as gateway:
        yield gateway


async def connect(gateway: IotGateway, protocol: str):
    return await asyncio.open_connection("127.0.0.1", gateway.ports[protocol])


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the gateway closed the connection (EOF or reset) without answering."""
    try:
        return await asyncio.wait_for(reader.read(), 5.0) == b""
    except ConnectionResetError:
        return True


async def teltonika_reports(gateway: IotGateway, n: int) -> None:
    """A known Teltonika device logs in and has ``n`` positions acknowledged."""
    reader, writer = await connect(gateway, "teltonika")
    writer.write(build_imei_handshake(TELTONIKA_IMEI))
    assert await asyncio.wait_for(reader.readexactly(1), 5.0) == b"\x01"
    for i in range(n):
        when = datetime(2026, 12, 4, 10, 0, i, tzinfo=UTC)
        writer.write(build_avl_packet([(when, 52.5, 13.4, 10.0, 90.0)]))
        assert await asyncio.wait_for(reader.readexactly(4), 5.0) == (1).to_bytes(4, "big")
    writer.close()


def positions(sink: InMemorySink) -> list[str | None]:
    return [r.device_id for r in sink.records if r.kind is RecordKind.POSITION]


@pytest.mark.asyncio
@pytest.mark.expect_log(CONNECTION_LOG, match="looks like GT06 on the Teltonika port")
async def test_a_gt06_login_on_the_teltonika_port_is_named_not_decoded(caplog) -> None:
    sink = InMemorySink({(TELTONIKA_IMEI, "teltonika")})
    async with gateway_with(sink) as gateway:
        await teltonika_reports(gateway, 1)
        reader, writer = await connect(gateway, "teltonika")
        port = writer.get_extra_info("sockname")[1]
        writer.write(GT06_LOGIN)
        assert await closed_by_server(reader)  # no ACK: the device was told nothing

        await sink.wait_for(lambda s: (GT06_IMEI, "gt06") in s.unknown)
        entry = sink.unknown[(GT06_IMEI, "gt06")]
        teltonika, gt06 = gateway.ports["teltonika"], gateway.ports["gt06"]
        hint = (
            f"looks like GT06 on the Teltonika port ({teltonika}): "
            f"set the device to port {gt06} or register it with protocol gt06"
        )
        assert entry.hint == hint and entry.count == 1
        assert all(r.device_id == TELTONIKA_IMEI for r in sink.records)  # nothing of it stored
        assert sink.rejects == []
        assert gateway.stats.misdirected == 1
        warnings = [
            r.getMessage()
            for r in caplog.records
            if r.name == CONNECTION_LOG and r.levelno == logging.WARNING
        ]
        peer = writer.get_extra_info("sockname")
        assert warnings == [f"device at {peer[0]}:{port} {hint}"]

        await teltonika_reports(gateway, 2)  # the real Teltonika device keeps storing
        assert positions(sink) == [TELTONIKA_IMEI] * 3
        writer.close()


@pytest.mark.asyncio
@pytest.mark.expect_log(CONNECTION_LOG, match="looks like Teltonika on the GT06 port")
async def test_a_teltonika_login_split_over_reads_on_the_gt06_port() -> None:
    sink = InMemorySink()
    async with gateway_with(sink) as gateway:
        reader, writer = await connect(gateway, "gt06")
        login = build_imei_handshake(TELTONIKA_IMEI)
        writer.write(login[:6])
        await writer.drain()
        await asyncio.sleep(0)  # let the first piece go out on its own (no timing asserted)
        writer.write(login[6:])
        assert await closed_by_server(reader)
        await sink.wait_for(lambda s: (TELTONIKA_IMEI, "teltonika") in s.unknown)
        assert (
            "register it with protocol teltonika"
            in sink.unknown[(TELTONIKA_IMEI, "teltonika")].hint
        )
        assert sink.records == []
        writer.close()


@pytest.mark.asyncio
async def test_http_on_a_device_port_is_closed_and_logged_but_not_in_the_inbox(caplog) -> None:
    sink = InMemorySink()
    caplog.set_level(logging.INFO, CONNECTION_LOG)
    async with gateway_with(sink) as gateway:
        reader, writer = await connect(gateway, "gt06")
        writer.write(b"GET / HTTP/1.1\r\nHost: console\r\n\r\n")
        assert await closed_by_server(reader)
        assert sink.unknown == {} and sink.records == []
        assert gateway.stats.misdirected == 1
        assert any(
            "looks like HTTP traffic, not a device, on the GT06 port" in r.getMessage()
            for r in caplog.records
            if r.levelno == logging.INFO
        )
        writer.close()


@pytest.mark.asyncio
async def test_bytes_that_say_nothing_keep_the_connection_for_a_late_login() -> None:
    sink = InMemorySink({(TELTONIKA_IMEI, "teltonika")})
    async with gateway_with(sink) as gateway:
        reader, writer = await connect(gateway, "teltonika")
        writer.write(b"\x13\x37 line noise \xfe\xed")
        writer.write(build_imei_handshake(TELTONIKA_IMEI))
        assert await asyncio.wait_for(reader.readexactly(1), 5.0) == b"\x01"
        assert gateway.stats.misdirected == 0 and sink.unknown == {}
        writer.close()
