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
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.commands import CommandHandle, CommandTracker
from app.integrations.iot.connection import DeviceConnection
from app.integrations.iot.gateway_state import GatewayConfig, GatewayStats
from app.integrations.iot.records import Codec
from app.integrations.iot.sink import RecordSink
from app.integrations.iot.store_batch import StoreBatcher

logger = logging.getLogger(__name__)

# Traccar's default ports for the same protocols, so devices provisioned for a Traccar
# server need no reconfiguration (NMEA arrives over serial, not TCP, here).
DEFAULT_PORTS: dict[str, int] = {"omni": 5180, "gl200": 5004, "teltonika": 5027, "gt06": 5023}
# OKAI's ZK dialect has no Traccar port: Levy Fleets' OKAI guide's 9002, outside Traccar's
# 5000-5300 range and apart from gl200's 5004 (profiles.PROTOCOL_PORTS says the same).
DEFAULT_PORTS["okai"] = 9002


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
        self.batcher = StoreBatcher[DeviceConnection](
            sink, self.stats, self.commands, self._online, config.max_pending_reads
        )
        self.sessions: dict[str, DeviceConnection] = {}
        self.ports: dict[str, int] = {}
        self._connections: set[DeviceConnection] = set()
        self._servers: list[asyncio.Server] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._all_closed = asyncio.Event()
        # Set by start(); connections and the sweep exist only after it.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop start() ran on; RuntimeError before start()."""
        if self._loop is None:
            raise RuntimeError("IoT gateway not started")
        return self._loop

    async def start(self) -> None:
        """Bind every port; OSError if one is taken (all already bound ones are closed)."""
        self._loop = asyncio.get_running_loop()
        try:
            for protocol, port in self.config.ports.items():
                codec = self.codecs[protocol]
                server = await self.loop.create_server(
                    partial(DeviceConnection, self, protocol, codec),
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

    def attach(self, conn: DeviceConnection) -> None:
        self._connections.add(conn)
        self.stats.connections += 1
        self.stats.connections_total += 1

    def detach(self, conn: DeviceConnection) -> None:
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
