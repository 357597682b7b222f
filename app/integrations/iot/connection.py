"""One device TCP connection: framing, decoding, identity; storing goes to the batcher.

This is an ``asyncio.Protocol`` rather than a StreamReader/Writer pair with a task per
connection: an idle device then costs only this object, its framer and the transport,
which keeps tens of thousands of mostly idle scooters affordable. Decoded reads go to the
gateway's :class:`StoreBatcher`, which stores them together with every other
connection's and writes the ACKs back through :meth:`DeviceConnection.write`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Protocol, cast

from app.integrations.iot.gateway_state import GatewayConfig, GatewayStats
from app.integrations.iot.misdirected import FirstBytes, examine
from app.integrations.iot.records import Codec, FrameError, Framer, RecordKind
from app.integrations.iot.sink import MAX_REJECTED, RecordSink
from app.integrations.iot.store_batch import Pending, StoreBatcher

if TYPE_CHECKING:
    from app.integrations.iot.commands import CommandHandle


class ConnectionHost(Protocol):
    """What a connection needs of its gateway (an ``IotGateway``)."""

    config: GatewayConfig
    stats: GatewayStats
    sink: RecordSink
    batcher: StoreBatcher[DeviceConnection]
    ports: dict[str, int]  # protocol -> bound port (hints for devices on the wrong one)

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def attach(self, conn: DeviceConnection) -> None: ...

    def detach(self, conn: DeviceConnection) -> None: ...


logger = logging.getLogger(__name__)


class DeviceConnection(asyncio.Protocol):
    """Decodes a device's frames and ACKs them only after the sink stored them."""

    __slots__ = (
        "_first",
        "_framer",
        "_known_id",
        "_other_ids",
        "closed",
        "codec",
        "connected_at",
        "device_id",
        "gateway",
        "last_frame",
        "last_rx",
        "paused",
        "peer",
        "protocol_name",
        "queued",
        "rx_since_frame",
        "transport",
    )

    def __init__(self, gateway: ConnectionHost, protocol_name: str, codec: Codec):
        self.gateway = gateway
        self.protocol_name = protocol_name
        self.codec = codec
        self._framer: Framer = codec.framer(gateway.config.max_frame)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.device_id: str | None = None
        self._known_id: str | None = None  # device_id once the sink said it is known
        self._other_ids: set[str] | None = None  # ids sent besides device_id (rare)
        # The first bytes, kept until the codec accepts a frame: if it refuses them they
        # may say the device is on the wrong port (misdirected.py).
        self._first: FirstBytes | None = FirstBytes()
        self.queued = 0  # reads handed to the batcher, not yet stored and ACKed
        self.closed = False
        self.paused = False
        self.rx_since_frame = False
        self.connected_at = self.last_rx = self.last_frame = 0.0

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The gateway serves TCP (create_server), so this is always a stream Transport.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.connected_at = self.last_rx = self.last_frame = self.gateway.loop.time()
        self.gateway.attach(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gateway.detach(self)

    def data_received(self, data: bytes) -> None:
        gateway = self.gateway
        stats = gateway.stats
        self.last_rx = gateway.loop.time()
        stats.bytes_in += len(data)
        first = self._first
        if first is not None:
            first.add(data)
        try:
            frames = self._framer.feed(data)
        except FrameError as exc:
            stats.frame_errors += 1
            if not self._misdirected():
                self._reject(data, f"framing error: {exc}")
            return
        if not frames:
            self.rx_since_frame = True
            if first is not None and first.skipped(self._framer.buffered):
                self._misdirected()
            return
        # A complete frame and the start of the next one can share a read: the timer must
        # run for that start too, or a slow sender is only cut by the idle timeout.
        self.rx_since_frame = self._framer.buffered > 0
        self.last_frame = self.last_rx
        stats.frames_in += len(frames)
        work = Pending([], b"", None, ())
        for frame in frames:
            if not self._decode_into(frame, work):
                return
        if work.records or work.ack or work.online_id or work.unknown_ids:
            gateway.batcher.submit(self, work)

    def pause(self) -> None:
        """Stop reading until the batcher caught up with this connection (backpressure)."""
        self.paused = True
        if self.transport is not None:  # set once connected, before any read is batched
            self.transport.pause_reading()

    def resume(self) -> None:
        self.paused = False
        if not self.closed and self.transport is not None:
            self.transport.resume_reading()

    # -- decoding ----------------------------------------------------------------------

    def _decode_into(self, frame: bytes, work: Pending) -> bool:
        """Decode one frame into ``work``; False if the connection was cut."""
        gateway = self.gateway
        try:
            result = self.codec.decode(
                frame, device_id=self.device_id, strict=gateway.config.strict
            )
        except FrameError as exc:
            gateway.stats.frame_errors += 1
            if not self._misdirected():
                self._reject(frame, f"undecodable frame: {exc}")
            return False
        except Exception:  # a codec bug must not take the gateway down
            gateway.stats.frame_errors += 1
            logger.exception("%s codec failed on a frame from %s", self.protocol_name, self.peer)
            self._reject(frame, "codec failure")
            return False
        self._first = None  # the codec took a frame: this device is on the right port
        records = result.records
        device_id = self.device_id
        if device_id is None:
            device_id = self.device_id = next((r.device_id for r in records if r.device_id), None)
            if device_id is None:
                gateway.stats.unidentified_frames += 1  # nobody to attribute it to: no ACK
                return True
        known = self._known_id
        to_check = {device_id} if known is None else None
        accepted = []
        for record in records:  # one pass: this runs for every frame of every device
            rid = record.device_id
            if rid is not None and rid != known:
                to_check = {rid} if to_check is None else to_check | {rid}
            if record.kind is not RecordKind.OTHER:
                if rid is None:
                    record = dataclasses.replace(record, device_id=device_id)
                accepted.append(record)
        if to_check and self._changes_identity(to_check - {device_id}):
            return False
        if to_check:
            sink, protocol = gateway.sink, self.protocol_name
            unknown = tuple(i for i in to_check if not sink.is_known(i, protocol))
            if unknown:
                gateway.stats.unknown_frames += 1
                work.unknown_ids += unknown
                return True
            if known is None:
                self._known_id = work.online_id = device_id
        work.records += accepted
        work.ack += result.ack
        return True

    def _changes_identity(self, others: set[str]) -> bool:
        """Cut a connection that speaks for too many device ids (True if it was cut).

        A tracker logs in as itself; one connection sending login after login with new
        ids is someone filling the unknown-devices inbox, so it is stopped at the source.
        """
        if not others:
            return False
        seen = self._other_ids = (self._other_ids or set()) | others
        limit = self.gateway.config.max_ids_per_connection
        if 1 + len(seen) <= limit:
            return False
        self.gateway.stats.identity_cuts += 1
        self.cut(f"changes identity repeatedly ({len(seen) + 1} device ids on one connection)")
        return True

    def _misdirected(self) -> bool:
        """Name and close a device that speaks another protocol (True if it was closed).

        Called when the codec refused what a connection sent before any frame of it was
        accepted. The inbox entry (when the id could be read) carries the hint, so the
        operator learns of it even without reading the log; nothing is stored or ACKed.
        """
        first = self._first
        if first is None or self.device_id is not None:
            return False
        gateway = self.gateway
        found = examine(first, self.protocol_name, gateway.ports)
        if found is None:
            return False
        self._first = None
        gateway.stats.misdirected += 1
        if found.is_device:
            logger.warning("device at %s %s", self.peer, found.hint)
        else:  # scanners and browsers are routine on an open port
            logger.info("client at %s %s", self.peer, found.hint)
        if found.device_id is not None:
            gateway.batcher.submit(self, Pending([], b"", None, (), found))
        self.cut(f"speaks {found.protocol}, not {self.protocol_name}")
        return True

    def _reject(self, data: bytes, reason: str) -> None:
        """Cut the connection over bad bytes, and show them in the device's frame log.

        An identified device's garbage goes to the sink (its frame log is where an operator
        troubleshoots); before identification there is nobody to show it to but the log.
        """
        if self.device_id is not None:
            try:
                self.gateway.sink.rejected(
                    self.device_id, self.protocol_name, self.peer, data[:MAX_REJECTED], reason
                )
            except Exception:
                logger.exception("reporting a rejected frame of %s failed", self.device_id)
        self.cut(reason, abort=True)

    # -- writing -----------------------------------------------------------------------

    def write(self, data: bytes) -> bool:
        """Write with a bounded buffer: a device that does not read is cut, not buffered."""
        if self.closed or self.transport is None:
            return False
        self.transport.write(data)
        if self.transport.get_write_buffer_size() > self.gateway.config.max_write_buffer:
            self.gateway.stats.write_overflows += 1
            self.cut("write buffer full", abort=True)
            return False
        return True

    def send_command(self, handle: CommandHandle) -> bool:
        """Encode and write one command (ValueError if this protocol cannot do it)."""
        if self.closed or self.device_id is None:
            return False
        data = self.codec.encode_command(
            self.device_id, handle.action, sequence=handle.command_id & 0xFFFF
        )
        handle.protocol = self.protocol_name
        return self.write(data)

    def cut(self, reason: str, *, abort: bool = False) -> None:
        """Close the connection, saying why in the log (never affects other connections)."""
        if self.closed or self.transport is None:
            return
        self.closed = True
        logger.info(
            "closing %s connection %s (%s): %s",
            self.protocol_name,
            self.peer,
            self.device_id or "unidentified",
            reason,
        )
        self.gateway.stats.cuts += 1
        if abort:
            self.transport.abort()
        else:
            self.transport.close()
