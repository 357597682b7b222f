"""Random and mutated bytes at a live gateway while a good device keeps getting ACKs.

The gateway runs on its own event loop in a thread so that hypothesis can drive plain
blocking sockets; one good device stays connected for the whole run and must be answered
after every hostile example, on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.integrations.iot.sink import InMemorySink
from tests.unit.iot.fake_codec import CODEC
from tests.unit.iot.gateway_helpers import KNOWN

# pytest's norecursedirs (pyproject) replaces the defaults, so a .hypothesis directory in
# the work tree breaks collection; keep hypothesis' cache out of the tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fleet-console-hypothesis")

VALID = [b"ID,111111111111111\n", b"POS,52.5,13.4,L\n", b"ST,U\n", b"HB\n", b"RES,ok,x\n"]


class LiveGateway:
    """A gateway on a background loop, plus the errors that loop reported."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[dict] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.loop_errors.append(ctx))
        cfg = GatewayConfig(ports={"line": 0}, host="127.0.0.1", max_frame=256)
        self.sink = InMemorySink({(KNOWN, "line")})
        self.gateway = IotGateway(cfg, self.sink, codecs={"line": CODEC})
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.gateway.start(), self.loop).result(10)
        self.port = self.gateway.ports["line"]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.gateway.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def recv_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            raise ConnectionError("good device was disconnected")
        data += chunk
    return data


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveGateway, socket.socket]]:
    with LiveGateway() as live, socket.create_connection(("127.0.0.1", live.port), 5) as good:
        good.sendall(b"ID,356000000000001\n")
        assert recv_line(good) == b"OK\n"
        yield live, good


def mutated(frame: bytes, data: st.DataObject) -> bytes:
    pos = data.draw(st.integers(0, len(frame)))
    insert = data.draw(st.binary(max_size=8))
    cut = data.draw(st.integers(0, 4))
    return frame[:pos] + insert + frame[pos + cut :]


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_hostile_bytes_never_disturb_a_good_device(live, data) -> None:
    gateway, good = live
    if data.draw(st.booleans()):
        payload = data.draw(st.binary(min_size=1, max_size=600))
    else:
        frames = data.draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=4))
        payload = b"".join(mutated(f, data) for f in frames)
    with socket.create_connection(("127.0.0.1", gateway.port), 5) as hostile:
        with contextlib.suppress(ConnectionError):
            hostile.sendall(payload)
        good.sendall(b"POS,52.5,13.4,L\n")
        assert recv_line(good) == b"ACK,POS\n"
    assert gateway.loop_errors == []


def test_fuzzing_left_the_good_device_connected(live) -> None:
    gateway, good = live
    good.sendall(b"ST,L\n")
    assert recv_line(good) == b"ACK,ST\n"
    assert gateway.gateway.is_online(KNOWN)
    assert gateway.loop_errors == []
