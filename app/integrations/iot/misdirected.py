"""Devices on the wrong port: what a refused connection's first bytes say, and the hint.

A connection keeps its first bytes (:class:`FirstBytes`) until its codec accepts a frame.
When the codec refuses what came (a FrameError, or its framer skipping the bytes as noise
with nothing framed), :func:`examine` asks :func:`app.integrations.iot.sniff.recognise`
what they look like. Another protocol's shape means a device set to the wrong port: the
gateway names it (log and inbox) and closes the connection instead of letting it run into
"did not identify in time" with nobody the wiser. The device id is read with the codec of
the protocol the bytes look like, when this console has it, so the inbox entry can be
claimed like any other; nothing is stored either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.records import FrameError
from app.integrations.iot.sniff import NOT_DEVICES, display_name, recognise, same_family

logger = logging.getLogger(__name__)

# Enough for a first report with its device id: 8 of the corpus' 70 Queclink reports run
# past 256 bytes (up to 366, one batch of 1,422), logins are under 40. Only connections
# not identified yet hold it.
HEAD_BYTES = 512


class FirstBytes:
    """The first ``HEAD_BYTES`` bytes of a connection and how many arrived in all."""

    __slots__ = ("_examined", "head", "received")

    def __init__(self) -> None:
        self.head = bytearray()
        self.received = 0
        self._examined = 0  # len(head) when last examined: the same bytes say the same

    def add(self, data: bytes) -> None:
        self.received += len(data)
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]

    def fresh(self) -> bytes | None:
        """The head if it grew since the last call, else None: the same bytes say the same."""
        if len(self.head) == self._examined:
            return None
        self._examined = len(self.head)
        return bytes(self.head)

    def skipped(self, buffered: int) -> bool:
        """Whether the framer dropped bytes (it holds fewer than arrived, none framed)."""
        return buffered < self.received


@dataclass(frozen=True, slots=True)
class Misdirected:
    """A connection speaking another protocol than its port's."""

    protocol: str  # what the bytes look like (a codec name, or tls/http/mqtt)
    device_id: str | None  # read by that protocol's codec; None if not possible here
    hint: str  # "looks like GT06 on the Teltonika port (5027): ..."

    @property
    def is_device(self) -> bool:
        return self.protocol not in NOT_DEVICES


def examine(first: FirstBytes, port_protocol: str, ports: Mapping[str, int]) -> Misdirected | None:
    """What the first bytes are if they belong on another port; None if they do not tell.

    ``ports`` is the gateway's protocol -> bound port, for the hint.
    """
    head = first.fresh()
    seen = recognise(head) if head is not None else None
    if head is None or seen is None or same_family(seen, port_protocol):
        return None
    device_id = None if seen in NOT_DEVICES else _device_id(seen, head)
    return Misdirected(seen, device_id, hint(seen, port_protocol, ports))


def hint(seen: str, port_protocol: str, ports: Mapping[str, int]) -> str:
    """What the operator reads: what the bytes look like, where they came, what to do."""
    here = f"the {display_name(port_protocol)} port ({ports.get(port_protocol, '?')})"
    if seen in NOT_DEVICES:
        return f"looks like {display_name(seen)} traffic, not a device, on {here}"
    target = ports.get(seen) or next(
        (port for protocol, port in ports.items() if same_family(protocol, seen)), None
    )
    if target is None:
        fix = f"no port of this gateway speaks {seen} (add it to the [iot] ports setting)"
    else:
        fix = f"set the device to port {target} or register it with protocol {seen}"
    return f"looks like {display_name(seen)} on {here}: {fix}"


def _device_id(protocol: str, head: bytes) -> str | None:
    """The id the first frames carry, decoded by ``protocol``'s own codec (if registered)."""
    try:
        codec = get_codec(protocol)
    except KeyError:
        return None  # recognised, but this console has no codec for it
    try:
        for frame in codec.framer().feed(head):
            try:
                records = codec.decode(frame).records
            except FrameError:
                continue
            found = next((r.device_id for r in records if r.device_id), None)
            if found is not None:
                return found
    except FrameError:
        pass
    except Exception:  # a codec bug must not take the gateway down
        logger.exception("%s codec failed on the first bytes of a misdirected device", protocol)
    return None
