"""Serial reader on real pseudo-terminals: data flow, ACKs, unplug/replug recovery.

Recovery is the supervisor's: the reader runs as a restartable TaskOwner task, as the
IoT runtime spawns it, with a fast restart policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.integrations.iot.records import LockState
from app.integrations.iot.serial_reader import (
    PortUnavailable,
    SerialConfig,
    SerialReader,
    SerialStatus,
)
from app.integrations.iot.sink import InMemorySink
from app.services.tasks import RestartPolicy, TaskOwner
from tests.helpers.plug_port import PlugPort
from tests.helpers.waiting import until
from tests.unit.integrations.iot.fake_codec import CODEC

DEVICE = "gps-puck-1"


@pytest.fixture
def port(tmp_path: Path) -> Iterator[PlugPort]:
    plug = PlugPort(tmp_path / "ttyGPS")
    yield plug
    if plug.master is not None:
        plug.unplug()


def make_reader(port: PlugPort, sink: InMemorySink, statuses: list | None = None) -> SerialReader:
    cfg = SerialConfig(
        port=str(port.link),
        device_id=DEVICE,
        protocol="line",
        baudrate=115200,
        read_timeout=0.05,
    )
    return SerialReader(
        cfg,
        sink,
        codec=CODEC,
        on_status=(lambda s, t: statuses.append(s)) if statuses is not None else None,
    )


@pytest.mark.asyncio
async def test_frames_are_stored_under_the_configured_id_and_acked_on_the_port(port) -> None:
    port.plug()
    sink = InMemorySink({(DEVICE, "line")})
    reader = make_reader(port, sink)
    await reader.start()
    try:
        assert await reader.wait_status(SerialStatus.CONNECTED) is SerialStatus.CONNECTED
        port.write(b"POS,52.5,13.4,L\nST,U\n")
        assert await asyncio.to_thread(port.read_lines, 2) == b"ACK,POS\nACK,ST\n"
        await sink.wait_for(lambda s: len(s.records) == 2)
        assert [r.device_id for r in sink.records] == [DEVICE, DEVICE]
        assert sink.records[1].lock_state is LockState.UNLOCKED
        assert all(r.raw.startswith((b"POS", b"ST")) for r in sink.records)
    finally:
        await reader.stop()
    assert reader.status is SerialStatus.STOPPED


def supervised(reader: SerialReader) -> TaskOwner:
    """The reader as the IoT runtime runs it: restartable, outages not tracebacks."""
    owner = TaskOwner(policy=RestartPolicy(first_s=0.02, max_s=0.1))
    name = f"serial {reader.config.port}"
    owner.spawn(reader.run, name, restart=True, outages=(PortUnavailable,))
    return owner


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.tasks", r"background task serial")
async def test_unplug_shows_the_reader_down_and_replug_brings_it_back(port, caplog) -> None:
    port.plug()
    sink = InMemorySink({(DEVICE, "line")})
    statuses: list[SerialStatus] = []
    reader = make_reader(port, sink, statuses)
    owner = supervised(reader)
    name = f"serial {port.link}"
    try:
        await reader.wait_status(SerialStatus.CONNECTED)
        assert owner.running == [name] and owner.failures() == {}
        port.write(b"POS,1.0,1.0,L\n")
        await sink.wait_for(lambda s: len(s.records) == 1)
        port.unplug()
        await until(lambda: name in owner.failures(), 5, "the reader reported down")
        assert f"{port.link} lost" in owner.failures()[name]
        assert str(port.link) in reader.status_text
        port.plug()
        await until(lambda: owner.failures() == {}, 5, "the reader back up")
        await reader.wait_status(SerialStatus.CONNECTED)
        port.write(b"POS,2.0,2.0,U\n")
        await sink.wait_for(lambda s: len(s.records) == 2)
        assert sink.records[1].latitude == 2.0
        assert statuses[:3] == [
            SerialStatus.STARTING,
            SerialStatus.CONNECTED,
            SerialStatus.WAITING,
        ]
        assert statuses[-1] is SerialStatus.CONNECTED
        assert owner.restarts >= 1
        assert not [r for r in caplog.records if r.levelname == "ERROR"]  # an outage, no bug
    finally:
        await owner.shutdown()
    assert reader.status is SerialStatus.STOPPED


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.tasks", r"background task serial")
async def test_missing_port_is_down_then_connects_when_it_appears(port) -> None:
    sink = InMemorySink({(DEVICE, "line")})
    reader = make_reader(port, sink)
    owner = supervised(reader)
    try:
        await until(lambda: owner.failures(), 5, "the reader reported down")
        assert "unavailable" in next(iter(owner.failures().values()))
        assert "unavailable" in reader.status_text
        port.plug()
        await reader.wait_status(SerialStatus.CONNECTED)
        port.write(b"ST,L\n")
        await sink.wait_for(lambda s: len(s.records) == 1)
    finally:
        await owner.shutdown()


@pytest.mark.asyncio
@pytest.mark.expect_log("app.integrations.iot.serial_reader", r"serial")
async def test_unregistered_device_is_reported_and_line_noise_skipped(port) -> None:
    port.plug()
    sink = InMemorySink()
    reader = make_reader(port, sink)
    await reader.start()
    try:
        await reader.wait_status(SerialStatus.CONNECTED)
        port.write(b"\x00\x01noise\nPOS,1.0,1.0,L\n")
        await reader.wait_status(SerialStatus.ERROR)
        assert "not registered" in reader.status_text
        assert sink.records == [] and (DEVICE, "line") in sink.unknown
        assert sink.unknown[(DEVICE, "line")].address == f"serial:{port.link}"
        assert reader.errors == 1
        [(device_id, data, reason)] = sink.rejects  # the noise reaches the frame log
        assert (device_id, data) == (DEVICE, b"\x00\x01noise") and "bad line frame" in reason
        sink.claim(DEVICE, "line")
        port.write(b"POS,1.0,1.0,L\n")
        await sink.wait_for(lambda s: len(s.records) == 1)
        await reader.wait_status(SerialStatus.CONNECTED)
    finally:
        await reader.stop()
