"""A device on a serial port (NMEA GPS or any codec), feeding the same RecordSink.

Reads are blocking pyserial calls on a dedicated executor thread, because that is what
works on Windows too (no selectable serial handles there). Decoded records are handed to
the event loop with ``run_coroutine_threadsafe`` and the thread waits for the sink, so a
slow database slows the reads instead of growing a queue.

USB adapters get unplugged. A reader is one supervised unit (``run``, spawned with
restart by the IoT runtime): a missing or lost port ends it with :class:`PortUnavailable`,
the console's TaskOwner shows "serial <port> stopped: <reason>, restarting in N s" and
opens it again with its backoff, so there is one retry policy and one place that says a
worker is down. ``status``/``status_text`` say the same for the device panel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import serial

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.records import Codec, DeviceRecord, FrameError, RecordKind
from app.integrations.iot.sink import MAX_REJECTED, Received, RecordSink

logger = logging.getLogger(__name__)


class SerialStatus(enum.StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"
    WAITING = "waiting for port"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class SerialConfig:
    """One serial device: where it is, how fast it talks, what it speaks, who it is.

    The device id is configured because serial devices (a GPS puck) often never say who
    they are; it is used for records that carry no id of their own.
    """

    port: str
    device_id: str
    protocol: str = "nmea"
    baudrate: int = 9600
    read_timeout: float = 0.2
    max_frame: int = 4096
    strict: bool = True


StatusListener = Callable[["SerialStatus", str], None]


class PortUnavailable(OSError):
    """The port is missing or was lost: an outage (unplugged), not a bug; retried later."""


class SerialReader:
    """Reads one serial device; ``run`` until the port goes away or it is cancelled."""

    def __init__(
        self,
        config: SerialConfig,
        sink: RecordSink,
        *,
        codec: Codec | None = None,
        on_status: StatusListener | None = None,
    ):
        self.config = config
        self.sink = sink
        self.codec = codec or get_codec(config.protocol)
        self.on_status = on_status
        self.status = SerialStatus.STOPPED
        self.status_text = "not started"
        self.frames = self.records_stored = self.errors = 0
        self._stop = threading.Event()
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._future: asyncio.Future[None] | None = None
        self._status_changed = asyncio.Event()

    @property
    def peer(self) -> str:
        return f"serial:{self.config.port}"

    async def run(self) -> None:
        """Read until cancelled; PortUnavailable when the port is missing or lost.

        The supervisor runs it again after its backoff, which is how an unplugged
        adapter is found again when it comes back.
        """
        await self.start()
        assert self._future is not None
        try:
            await asyncio.shield(self._future)
        finally:
            await self.stop()

    async def start(self) -> None:
        """Start the reader thread; returns at once (watch ``status``, or await ``run``)."""
        if self._future is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._set_status(SerialStatus.STARTING, f"opening {self.config.port}")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"serial-{self.config.port}"
        )
        self._future = self._loop.run_in_executor(self._executor, self._run)

    async def stop(self) -> None:
        """Stop reading and close the port; waits for the reader thread."""
        if self._future is None:
            return
        self._stop.set()
        port = self._serial
        if port is not None:
            with contextlib.suppress(Exception):  # the port may be half gone already
                port.cancel_read()
        await asyncio.wait({self._future})  # its outcome belongs to run(), not to stop()
        assert self._executor is not None
        self._executor.shutdown(wait=True)
        self._future = self._executor = None
        if self.status is not SerialStatus.WAITING:  # keep saying why it is down
            self._set_status(SerialStatus.STOPPED, "stopped")

    async def wait_status(self, *states: SerialStatus, timeout: float = 10.0) -> SerialStatus:
        """Wait until the reader is in one of ``states`` (tests, UI start-up)."""

        async def _wait() -> SerialStatus:
            while self.status not in states:
                self._status_changed.clear()
                await self._status_changed.wait()
            return self.status

        return await asyncio.wait_for(_wait(), timeout)

    # -- status, always updated on the loop --------------------------------------------

    def _set_status(self, status: SerialStatus, text: str) -> None:
        if (status, text) == (self.status, self.status_text):
            return
        self.status, self.status_text = status, text
        logger.info("serial %s: %s (%s)", self.config.port, status, text)
        self._status_changed.set()
        if self.on_status is not None:
            self.on_status(status, text)

    def _report(self, status: SerialStatus, text: str) -> None:
        """Thread-side: move a status change onto the loop."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._set_status, status, text)

    # -- the reader thread -------------------------------------------------------------

    def _run(self) -> None:
        """Open the port and read it until stopped; PortUnavailable when it is not there."""
        cfg = self.config
        try:
            port = serial.Serial(cfg.port, cfg.baudrate, timeout=cfg.read_timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise self._unavailable(f"{cfg.port} unavailable: {exc}") from exc
        self._serial = port
        self._report(SerialStatus.CONNECTED, f"reading {cfg.port} at {cfg.baudrate} baud")
        try:
            self._read_until_lost(port)
        except (serial.SerialException, OSError) as exc:
            if not self._stop.is_set():
                raise self._unavailable(f"{cfg.port} lost: {exc}") from exc
        finally:
            self._serial = None
            port.close()

    def _unavailable(self, text: str) -> PortUnavailable:
        self._report(SerialStatus.WAITING, text)
        return PortUnavailable(text)

    def _read_until_lost(self, port: serial.Serial) -> None:
        framer = self.codec.framer(self.config.max_frame)
        while not self._stop.is_set():
            data = port.read(port.in_waiting or 1)
            if not data:
                continue
            try:
                frames = framer.feed(data)
            except FrameError as exc:  # line noise: start over with a fresh framer
                self.errors += 1
                logger.warning("serial %s: %s", self.config.port, exc)
                framer = self.codec.framer(self.config.max_frame)
                continue
            for frame in frames:
                ack = self._handle_frame(frame)
                if ack:
                    port.write(ack)

    def _handle_frame(self, frame: bytes) -> bytes:
        """Decode one frame and wait until the loop stored it; returns the ACK to write."""
        self.frames += 1
        cfg = self.config
        try:
            result = self.codec.decode(frame, device_id=cfg.device_id, strict=cfg.strict)
        except FrameError as exc:
            self.errors += 1
            logger.warning("serial %s: bad frame skipped: %s", cfg.port, exc)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(
                self.sink.rejected,
                cfg.device_id,
                cfg.protocol,
                self.peer,
                frame[:MAX_REJECTED],
                str(exc),
            )
            return b""
        records = [
            r if r.device_id else dataclasses.replace(r, device_id=cfg.device_id)
            for r in result.records
            if r.kind is not RecordKind.OTHER
        ]
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._deliver(records), self._loop)
        try:
            stored = future.result()
        except Exception as exc:
            self.errors += 1
            logger.exception("serial %s: storing failed", cfg.port)
            self._report(SerialStatus.ERROR, f"storing failed: {exc}")
            return b""
        return result.ack if stored else b""

    async def _deliver(self, records: Sequence[DeviceRecord]) -> bool:
        cfg = self.config
        if not self.sink.is_known(cfg.device_id, cfg.protocol):
            await self.sink.unknown_device(cfg.device_id, cfg.protocol, self.peer)
            self._set_status(
                SerialStatus.ERROR, f"device {cfg.device_id} is not registered; data dropped"
            )
            return False
        if records:
            await self.sink.store([Received(self.peer, records)])
            self.records_stored += len(records)
        self._set_status(SerialStatus.CONNECTED, f"reading {cfg.port} at {cfg.baudrate} baud")
        return True
