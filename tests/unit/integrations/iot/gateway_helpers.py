"""Shared pieces of the gateway tests: a running gateway on the fake line protocol and a client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Sequence

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.sink import InMemorySink, Received
from tests.unit.integrations.iot.fake_codec import CODEC

KNOWN = "356000000000001"


@contextlib.asynccontextmanager
async def running_gateway(sink=None, codec=CODEC, **config) -> AsyncIterator[IotGateway]:
    """A gateway speaking the fake line protocol on a free localhost port."""
    sink = sink if sink is not None else InMemorySink({(KNOWN, "line")})
    cfg = GatewayConfig(ports={"line": 0}, host="127.0.0.1", **config)
    gateway = IotGateway(cfg, sink, codecs={"line": codec})
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


class LineClient:
    """A device speaking the fake line protocol over a real TCP socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, gateway: IotGateway) -> LineClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ports["line"])
        return cls(reader, writer)

    async def send(self, *lines: str) -> None:
        self.writer.write(b"".join(line.encode() + b"\n" for line in lines))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, timeout: float = 5.0) -> str:
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        return data.decode().rstrip("\n")

    async def login(self, device_id: str = KNOWN) -> None:
        await self.send(f"ID,{device_id}")
        assert await self.line() == "OK"

    async def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server closed (EOF or reset) the connection."""
        try:
            while await asyncio.wait_for(self.reader.read(4096), timeout):
                pass
        except ConnectionResetError:
            pass
        return True

    def no_data_waiting(self) -> bool:
        """True if nothing has arrived on the socket (non-blocking peek, no waiting)."""
        if self.reader._buffer:  # type: ignore[attr-defined]
            return False
        fd = self.writer.get_extra_info("socket").fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            try:
                return not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class GatedSink(InMemorySink):
    """A sink whose ``store`` blocks until released: proves the ACK waits for storage."""

    def __init__(self, known):
        super().__init__(known)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def store(self, received: Sequence[Received]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().store(received)


class FailingSink(InMemorySink):
    """A sink whose database is down."""

    async def store(self, received: Sequence[Received]) -> None:
        raise OSError("database unavailable")
