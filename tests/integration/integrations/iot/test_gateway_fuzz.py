"""Random and mutated frames at the live gateway, decoded by the real codecs into SQLite.

The gateway (every TCP protocol, real framers and decoders), the ingest and the telemetry
writer run on their own event loop in a thread, storing into a real SQLite file, so that
hypothesis can drive plain blocking sockets. A registered GT06 tracker stays connected
for the whole run and must be answered after every hostile example, on the same
connection. Hostile examples are random bytes and real captured frames (Traccar's corpus)
with bytes inserted and cut, sent to any protocol's port. Afterwards the database holds
exactly the tracker's readings: nothing a valid frame of a registered device did not carry.
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
from sqlalchemy import select, text

from app.integrations.iot.codecs.gt06 import Gt06Framer
from app.integrations.iot.codecs.gt06_build import build_location, build_login
from app.integrations.iot.device_ids import is_plausible_device_id
from app.integrations.iot.gateway import DEFAULT_PORTS, GatewayConfig, IotGateway
from app.models.database import Database, sqlite_url
from app.models.orm import TelemetrySample, UnknownDevice
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.gt06_device import fix_time
from tests.helpers.iot_corpus import device_frames
from tests.helpers.iot_fleet import register_gt06

# pytest's norecursedirs (pyproject) replaces the defaults, so a .hypothesis directory in
# the work tree breaks collection; keep hypothesis' cache out of the tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "fleet-console-hypothesis")

GOOD_IMEI = "358000000000024"
PROTOCOLS = tuple(DEFAULT_PORTS)  # omni, gl200, teltonika, gt06: what arrives over TCP
CORPUS = {p: [f.data for f in device_frames(p)] for p in PROTOCOLS}


class LiveGateway:
    """Gateway + ingest + writer on a background loop over a real SQLite file."""

    def __init__(self, directory: Path) -> None:
        self.db = Database(sqlite_url(directory / "fleet.sqlite"))
        self.db.migrate()
        register_gt06(self.db, [GOOD_IMEI])
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[dict] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.loop_errors.append(ctx))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._tasks: list[asyncio.Task[None]] = []

    async def _start(self) -> None:
        self.writer = TelemetryWriter(self.db, retry_initial_s=0.01)
        self.ingest = IotIngest(self.db, self.writer, flush_interval_s=0.05)
        await self.ingest.refresh()
        config = GatewayConfig(ports=dict.fromkeys(PROTOCOLS, 0), host="127.0.0.1")
        self.gateway = IotGateway(config, self.ingest)
        self._tasks = [
            self.loop.create_task(self.writer.run()),
            self.loop.create_task(self.ingest.run()),
        ]
        await self.gateway.start()

    async def _stop(self) -> None:
        await self.gateway.close()
        await self.writer.flush()
        await self.ingest.flush()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.db.close()


class GoodTracker:
    """The registered GT06 tracker on a blocking socket; ``report`` waits for its ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), 5)
        self.framer = Gt06Framer()
        self.sent: list[int] = []
        self.sock.sendall(build_login(GOOD_IMEI, 0))
        assert self._answer()[3] == 0x01, "login not acknowledged"

    def _answer(self) -> bytes:
        while True:
            chunk = self.sock.recv(256)
            if not chunk:
                raise ConnectionError("the good device was disconnected")
            frames = self.framer.feed(chunk)
            if frames:
                return frames[0]

    def report(self) -> None:
        serial = len(self.sent) + 1
        lat, lon = 52.5 + serial * 1e-4, 13.4 + serial * 1e-4  # each reading differs
        self.sock.sendall(build_location(fix_time(serial), lat, lon, 12.0, 90.0, serial=serial))
        answer = self._answer()
        assert int.from_bytes(answer[-6:-4], "big") == serial, "wrong frame acknowledged"
        self.sent.append(serial)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[LiveGateway, GoodTracker]]:
    with LiveGateway(tmp_path_factory.mktemp("fuzz")) as live:
        good = GoodTracker(live.gateway.ports["gt06"])
        yield live, good
        good.sock.close()


def mutated(frame: bytes, data: st.DataObject) -> bytes:
    pos = data.draw(st.integers(0, len(frame)))
    insert = data.draw(st.binary(max_size=8))
    cut = data.draw(st.integers(0, 4))
    return frame[:pos] + insert + frame[pos + cut :]


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_hostile_bytes_never_disturb_a_good_device(live, data) -> None:
    gateway, good = live
    protocol = data.draw(st.sampled_from(PROTOCOLS))
    if data.draw(st.booleans()):
        payload = data.draw(st.binary(min_size=1, max_size=600))
    else:
        frames = data.draw(st.lists(st.sampled_from(CORPUS[protocol]), min_size=1, max_size=4))
        payload = b"".join(mutated(f, data) for f in frames)
    with socket.create_connection(("127.0.0.1", gateway.gateway.ports[protocol]), 5) as hostile:
        with contextlib.suppress(ConnectionError):
            hostile.sendall(payload)
        good.report()
    assert gateway.loop_errors == []


def test_only_what_the_good_device_sent_was_stored(live) -> None:
    gateway, good = live
    good.report()
    assert gateway.gateway.is_online(GOOD_IMEI)
    gateway.call(gateway.writer.flush())
    gateway.call(gateway.ingest.flush())
    with gateway.db.session() as session:
        samples = session.execute(
            select(TelemetrySample.source, TelemetrySample.recorded_at, TelemetrySample.latitude)
        ).all()
        inbox = list(session.scalars(select(UnknownDevice.device_id)))
        integrity = session.execute(text("PRAGMA integrity_check")).scalar_one()
    tz = fix_time(0).tzinfo
    assert {(s, t.replace(tzinfo=tz)) for s, t, _lat in samples} == {
        ("iot", fix_time(n)) for n in good.sent
    }
    assert len(samples) == len(good.sent)
    assert all(is_plausible_device_id(device_id) for device_id in inbox)  # noise is no device
    assert integrity == "ok"
    assert gateway.loop_errors == []
