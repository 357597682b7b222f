"""The IoT TCP gateway: one listening port per protocol, records to a sink, commands out.

Modelled on Traccar's per-port pipelines (framer -> decoder -> storage, ACK delayed until
stored, device identity bound to the connection, offline command queue), on asyncio.

Unknown devices: their frames are reported to the sink (which keeps the "unknown devices"
inbox) and neither stored nor acknowledged, but the connection stays open until the idle
timeout. An unacknowledged device keeps its readings buffered and re-sends them, so once
an operator claims it the next re-send is stored and acknowledged: nothing is lost, and
the device does not have to reconnect to be accepted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.commands import CommandHandle, CommandTimeouts, CommandTracker
from app.integrations.iot.connection import DeviceConnection
from app.integrations.iot.records import Codec
from app.integrations.iot.sink import RecordSink
from app.integrations.iot.store_batch import StoreBatcher

logger = logging.getLogger(__name__)

# Traccar's default ports for the same protocols, so devices provisioned for a Traccar
# server need no reconfiguration (NMEA arrives over serial, not TCP, here).
DEFAULT_PORTS: dict[str, int] = {"omni": 5180, "gl200": 5004, "teltonika": 5027, "gt06": 5023}


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Ports and limits. Port 0 picks a free port (tests); see ``IotGateway.ports``.

    Timeouts are seconds: ``identify_timeout`` cuts connections that never say who they
    are, ``partial_frame_timeout`` cuts slow-loris senders (bytes arrive but no frame
    completes), ``idle_timeout`` cuts silent connections.
    """

    ports: Mapping[str, int]
    host: str = "0.0.0.0"
    max_frame: int = 4096
    identify_timeout: float = 60.0
    partial_frame_timeout: float = 30.0
    idle_timeout: float = 1800.0
    max_write_buffer: int = 64 * 1024
    max_pending_reads: int = 32  # reads decoded but not yet stored before reading pauses
    strict: bool = True
    # Device ids one connection may speak for (its own plus a few, e.g. a relogin under a
    # corrected IMEI); a connection naming more is cut as an inbox flood.
    max_ids_per_connection: int = 4
    # asyncio accepts up to ``backlog`` connections in one callback: 4096 let a burst of
    # 2,000 reconnecting devices hold the console's loop for 200 ms. Devices beyond the
    # queue retry their SYN a second later, which spreads such a burst out.
    backlog: int = 256
    shutdown_grace: float = 5.0  # how long close() waits for in-flight stores
    command_timeouts: CommandTimeouts = field(default_factory=CommandTimeouts)


@dataclass(slots=True)
class GatewayStats:
    """Counters for the status bar; ``snapshot`` turns them into rates."""

    connections: int = 0
    connections_total: int = 0
    bytes_in: int = 0
    frames_in: int = 0
    records_stored: int = 0
    acks_sent: int = 0
    frame_errors: int = 0
    store_errors: int = 0
    unknown_frames: int = 0
    unidentified_frames: int = 0
    write_overflows: int = 0
    cuts: int = 0
    identity_cuts: int = 0  # connections cut for naming too many device ids
    _last: tuple[float, int, int] = (0.0, 0, 0)

    def snapshot(self) -> dict[str, float]:
        """Counters plus frames/s and records/s since the previous snapshot."""
        now = time.monotonic()
        then, frames, records = self._last
        span = now - then if then else 0.0
        self._last = (now, self.frames_in, self.records_stored)
        return {
            "connections": self.connections,
            "connections_total": self.connections_total,
            "frames_in": self.frames_in,
            "records_stored": self.records_stored,
            "errors": self.frame_errors + self.store_errors + self.write_overflows,
            "unknown_frames": self.unknown_frames,
            "cuts": self.cuts,
            "identity_cuts": self.identity_cuts,
            "frames_per_s": (self.frames_in - frames) / span if span > 0 else 0.0,
            "records_per_s": (self.records_stored - records) / span if span > 0 else 0.0,
        }


Spawn = Callable[..., asyncio.Task[Any]]
"""``spawn(factory, name, restart=True)``: the console's TaskOwner.spawn."""


class IotGateway:
    """Accepts device connections on one port per protocol.

    ``codecs`` overrides the registry (tests use a fake protocol); by default each
    protocol in ``config.ports`` is resolved with ``get_codec``. ``spawn`` starts the
    idle sweeper under a supervisor: a sweeper that died unseen left dead connections
    "Online" for good.
    """

    def __init__(
        self,
        config: GatewayConfig,
        sink: RecordSink,
        *,
        codecs: Mapping[str, Codec] | None = None,
        spawn: Spawn | None = None,
    ):
        self.config = config
        self._spawn = spawn
        self.sink = sink
        self.codecs = {p: (codecs or {}).get(p) or get_codec(p) for p in config.ports}
        self.stats = GatewayStats()
        self.commands = CommandTracker(config.command_timeouts)
        self.batcher = StoreBatcher(
            sink, self.stats, self.commands, self._online, config.max_pending_reads
        )
        self.sessions: dict[str, DeviceConnection] = {}
        self.ports: dict[str, int] = {}
        self._connections: set[DeviceConnection] = set()
        self._servers: list[asyncio.Server] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._all_closed = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # type: ignore[assignment]

    async def start(self) -> None:
        """Bind every port; OSError if one is taken (all already bound ones are closed)."""
        self.loop = asyncio.get_running_loop()
        try:
            for protocol, port in self.config.ports.items():
                codec = self.codecs[protocol]
                server = await self.loop.create_server(
                    lambda p=protocol, c=codec: DeviceConnection(self, p, c),
                    self.config.host,
                    port,
                    backlog=self.config.backlog,
                    reuse_address=True,
                )
                self._servers.append(server)
                self.ports[protocol] = server.sockets[0].getsockname()[1]
                logger.info("IoT gateway: %s on port %d", protocol, self.ports[protocol])
        except BaseException:
            await self.close()
            raise
        if self._spawn is not None:
            self._sweeper = self._spawn(self._sweep, "iot-gateway-sweep", restart=True)
        else:
            self._sweeper = self.loop.create_task(self._sweep(), name="iot-gateway-sweep")

    async def close(self) -> None:
        """Stop listening, close every connection, wait for in-flight stores."""
        for server in self._servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        connections = list(self._connections)
        for conn in connections:
            conn.cut("gateway shutting down")
        flush = self.batcher.task
        if flush is not None:  # let in-flight stores finish (their ACKs are dropped), within reason
            _done, stuck = await asyncio.wait([flush], timeout=self.config.shutdown_grace)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._connections:  # transports report connection_lost on a later loop turn
            self._all_closed.clear()
            await asyncio.wait_for(self._all_closed.wait(), 5.0)
        self.commands.cancel_all()

    async def __aenter__(self) -> IotGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- commands ----------------------------------------------------------------------

    async def send_command(
        self, device_id: str, action: str, *, protocol: str | None = None
    ) -> CommandHandle:
        """Queue ``action`` for ``device_id`` and send it now if the device is online.

        ``protocol`` is informative for offline devices; the command is encoded by the
        protocol of whichever connection the device comes back on.
        """
        session = self.sessions.get(device_id)
        handle = self.commands.create(
            device_id, protocol or (session.protocol_name if session else ""), action
        )
        if session is not None:
            self.commands.flush(device_id, session.send_command)
        return handle

    def is_online(self, device_id: str) -> bool:
        return device_id in self.sessions

    def disconnect(self, device_id: str, reason: str) -> int:
        """Cut every connection identified as ``device_id``; returns how many were cut.

        Used after an unknown device is claimed: a device still waiting for the ACK of a
        login we ignored (GT06, Teltonika) reconnects, logs in again and is accepted.
        """
        connections = [c for c in self._connections if c.device_id == device_id]
        for conn in connections:
            conn.cut(reason)
        return len(connections)

    # -- connection bookkeeping (called by DeviceConnection) ---------------------------

    def _attach(self, conn: DeviceConnection) -> None:
        self._connections.add(conn)
        self.stats.connections += 1
        self.stats.connections_total += 1

    def _detach(self, conn: DeviceConnection) -> None:
        self._connections.discard(conn)
        self.stats.connections -= 1
        if not self._connections:
            self._all_closed.set()
        if conn.device_id is not None and self.sessions.get(conn.device_id) is conn:
            del self.sessions[conn.device_id]
            logger.info("device %s offline (%s)", conn.device_id, conn.peer)

    def _online(self, conn: DeviceConnection) -> None:
        """The connection's device is known and its login was ACKed: flush its commands."""
        assert conn.device_id is not None
        previous = self.sessions.get(conn.device_id)
        self.sessions[conn.device_id] = conn  # a reconnect replaces the old session
        if previous is not None and previous is not conn:
            previous.cut("device reconnected on a new connection")
        self.commands.flush(conn.device_id, conn.send_command)

    async def _sweep(self) -> None:
        """Cut connections that stalled, never identified, or went idle."""
        cfg = self.config
        period = min(cfg.identify_timeout, cfg.partial_frame_timeout, cfg.idle_timeout) / 4
        period = min(max(period, 0.02), 5.0)
        while True:
            await asyncio.sleep(period)
            now = self.loop.time()
            for conn in list(self._connections):
                if conn.closed:
                    continue
                if conn.device_id is None and now - conn.connected_at > cfg.identify_timeout:
                    conn.cut("did not identify in time")
                elif conn.rx_since_frame and now - conn.last_frame > cfg.partial_frame_timeout:
                    conn.cut("partial frame stalled (slow sender)")
                elif now - conn.last_rx > cfg.idle_timeout:
                    conn.cut("idle")
