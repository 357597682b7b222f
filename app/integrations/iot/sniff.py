"""Which protocol the first bytes of a connection look like, from byte signatures alone.

A device provisioned with the wrong port (a GT06 pointed at the Teltonika port) sends
bytes that the port's framer skips as noise, byte by byte, until the connection times
out; the operator sees only "did not identify in time". Every protocol the gateway
speaks opens with a recognisable shape (a start marker, a length that lands on a stop
marker, a text header), so the first bytes say what the device speaks and the gateway
can name it instead (see :mod:`app.integrations.iot.misdirected`).

The signatures are anchored at the start of the connection and strict on purpose: a
false "looks like X" would cut a working device, while missing one only keeps today's
behaviour. Random bytes give None. Queclink and OKAI share one framing; only OKAI's own
report types (flespi's OKAI changelog names GTCFU, GTMDR and GTADR) tell them apart, so
everything else Queclink-shaped is ``gl200`` and named "Queclink/OKAI".

Non-device traffic (TLS, HTTP, MQTT) is recognised too: a browser, a scanner, or a
device set to MQTT or TLS mode talking to a plain TCP port.
"""

from __future__ import annotations

import re
from functools import reduce
from operator import xor

from app.integrations.iot.codecs.crc16 import crc_itu
from app.integrations.iot.codecs.gl200_framing import MIN_BINARY, binary_length, is_binary

# What an operator reads in the log and the inbox, per protocol (codec names as keys).
NAMES: dict[str, str] = {
    "gt06": "GT06",
    "teltonika": "Teltonika",
    "gl200": "Queclink/OKAI",
    "okai": "OKAI",
    "omni": "Omni",
    "segway": "Segway",
    "nmea": "NMEA",
    "jt808": "JT/T 808",
    "tls": "TLS",
    "http": "HTTP",
    "mqtt": "MQTT",
}
NOT_DEVICES = frozenset({"tls", "http", "mqtt"})
# Protocols that share a framing and whose codecs accept each other's common frames.
_FAMILY = {"okai": "gl200"}

_TELTONIKA_CODECS = frozenset({0x08, 0x8E, 0x0C, 0x0D, 0x10, 0x07})  # 8, 8E, 12, 13, 16, GH3000
_TELTONIKA_ID_LENGTHS = range(10, 18)  # what the Teltonika codec accepts as an IMEI login
_TELTONIKA_MIN_DATA = 10  # codec, count, a minimal record or command, count
_JT808_FIRST_MESSAGES = frozenset({0x0100, 0x0102, 0x0200, 0x0002})  # register, auth, fix, beat
_JT808_MIN_FRAME = 15  # flags, 12-byte header, checksum
_JT808_ESCAPED = re.compile(rb"\x7d([\x01\x02])")
_IMEI = rb"(?:[0-9]{15}|[0-9A-F]{14})"  # Queclink also sends 14-hex-digit MEIDs
_QUECLINK_TEXT = re.compile(rb"\x00*\+(?:RESP|BUFF|ACK):GT([A-Z]{3}),[0-9A-Za-z]*," + _IMEI + b",")
_OKAI_ONLY_REPORTS = frozenset({b"CFU", b"MDR", b"ADR"})
_OMNI = re.compile(rb"\*SCO[RS],[0-9A-Z]{2},[0-9]{15},")
_SEGWAY = re.compile(rb"\*HBCR,NB,[0-9]{15},")
_NMEA = re.compile(rb"\$(?:GP|GN|GL|GA|GB|BD)[A-Z]{3},[\x20-\x7e]{10}")
_HTTP = re.compile(rb"(?:GET|POST|HEAD|PUT|DELETE|OPTIONS|CONNECT) [\x21-\x7e]+ HTTP/1\.[01]\r?\n")
_MQTT_NAMES = (b"\x00\x04MQTT", b"\x00\x06MQIsdp")
_MQTT_LEVELS = frozenset({3, 4, 5})
_GT06_STOP = b"\r\n"
_GT06_MIN_LENGTH = 5  # protocol number + serial + CRC
_QUECLINK_TAIL = b"\r\n"


def recognise(data: bytes) -> str | None:
    """The protocol ``data`` (a connection's first bytes) looks like, or None."""
    for name, matches in _SIGNATURES:
        if matches(data):
            return _okai_or_queclink(data) if name == "gl200" else name
    return None


def display_name(protocol: str) -> str:
    """``gt06`` -> ``GT06``: how the log and the inbox name a protocol."""
    return NAMES.get(protocol, protocol)


def same_family(a: str, b: str) -> bool:
    """Whether a device speaking ``a`` on the port of ``b`` is where it belongs."""
    return _FAMILY.get(a, a) == _FAMILY.get(b, b)


def _gt06(data: bytes) -> bool:
    """Start marker, then a declared length that lands on 0D0A; or, as some firmware
    writes a wrong length (the GT06 framer falls back the same way), a CRC-valid frame up
    to the first 0D0A. Clones with a bad CRC are still GT06, so the length alone counts."""
    if data[:2] == b"\x78\x78" and len(data) >= 3:
        length, at = data[2], 3
    elif data[:2] == b"\x79\x79" and len(data) >= 4:
        length, at = int.from_bytes(data[2:4], "big"), 4
    else:
        return False
    declared = at + length + 2
    if length >= _GT06_MIN_LENGTH and data[declared - 2 : declared] == _GT06_STOP:
        return True
    end = data.find(_GT06_STOP, at + _GT06_MIN_LENGTH) + 2  # 1 when there is none
    return end > 1 and crc_itu(data[2 : end - 4]) == int.from_bytes(data[end - 4 : end - 2], "big")


def _teltonika(data: bytes) -> bool:
    size = int.from_bytes(data[:2], "big")
    if size in _TELTONIKA_ID_LENGTHS and len(data) >= 2 + size:
        return data[2 : 2 + size].isdigit()
    if data[:4] != b"\x00\x00\x00\x00" or len(data) < 10:
        return False
    length, count = int.from_bytes(data[4:8], "big"), data[9]
    if length < _TELTONIKA_MIN_DATA or data[8] not in _TELTONIKA_CODECS or count == 0:
        return False
    # The data field closes with its record count again, when it is all here.
    return len(data) < 8 + length or data[8 + length - 1] == count


def _queclink(data: bytes) -> bool:
    if _QUECLINK_TEXT.match(data):
        return True
    if len(data) < MIN_BINARY or data[:1] != b"+" or not is_binary(data):
        return False
    # HEX mode: only a whole frame counts (its declared length, closed by 0D0A in the
    # classic headers); a longer one than the gateway keeps is left unrecognised.
    length = binary_length(data)
    if not MIN_BINARY <= length <= len(data):
        return False
    if data[1] == 0:  # the compact form has no tail: the next frame or the end follows
        return length == len(data) or data[length : length + 1] in (b"+", b"-")
    return data[length - 2 : length] == _QUECLINK_TAIL


def _okai_or_queclink(data: bytes) -> str:
    match = _QUECLINK_TEXT.match(data)
    return "okai" if match and match.group(1) in _OKAI_ONLY_REPORTS else "gl200"


def _jt808(data: bytes) -> bool:
    """Flags, a first message id, and the XOR checksum over the unescaped message."""
    if data[:1] != b"\x7e" or len(data) < _JT808_MIN_FRAME:
        return False
    if int.from_bytes(data[1:3], "big") not in _JT808_FIRST_MESSAGES:
        return False
    end = data.find(b"\x7e", 1)  # inside a frame 7E is escaped, so the next one closes it
    if end < _JT808_MIN_FRAME - 1:
        return False
    message = _JT808_ESCAPED.sub(lambda m: b"\x7d" if m[1] == b"\x01" else b"\x7e", data[1:end])
    return reduce(xor, message[:-1], 0) == message[-1]


def _tls(data: bytes) -> bool:
    """A handshake record (TLS 1.x) whose first message is a ClientHello that fits it."""
    if len(data) < 9 or data[0] != 0x16 or data[1] != 0x03 or data[2] > 4 or data[5] != 0x01:
        return False
    record = int.from_bytes(data[3:5], "big")
    return 4 <= int.from_bytes(data[6:9], "big") + 4 <= record


def _mqtt(data: bytes) -> bool:
    """CONNECT (0x10), its remaining length (a varint), the protocol name and level."""
    if data[:1] != b"\x10":
        return False
    at = 1
    while at < 5 and at < len(data) and data[at] & 0x80:
        at += 1
    rest = data[at + 1 :]
    for name in _MQTT_NAMES:
        if rest.startswith(name) and len(rest) > len(name):
            return rest[len(name)] in _MQTT_LEVELS
    return False


_SIGNATURES = (
    ("gt06", _gt06),
    ("teltonika", _teltonika),
    ("gl200", _queclink),
    ("omni", lambda d: _OMNI.match(d) is not None),
    ("segway", lambda d: _SEGWAY.match(d) is not None),
    ("nmea", lambda d: _NMEA.match(d) is not None),
    ("jt808", _jt808),
    ("tls", _tls),
    ("http", lambda d: _HTTP.match(d) is not None),
    ("mqtt", _mqtt),
)
