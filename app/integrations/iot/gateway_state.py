"""The gateway's configuration and counters: plain data its connections and batcher share.

Kept apart from :mod:`app.integrations.iot.gateway` so that a connection and the store
batcher can read the limits and count into the stats without importing the gateway that
owns them (which imports both of them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.integrations.iot.commands import CommandTimeouts


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
    misdirected: int = 0  # connections closed for speaking another port's protocol
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
            "misdirected": self.misdirected,
            "frames_per_s": (self.frames_in - frames) / span if span > 0 else 0.0,
            "records_per_s": (self.records_stored - records) / span if span > 0 else 0.0,
        }
