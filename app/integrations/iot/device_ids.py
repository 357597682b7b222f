"""The one check every codec applies to a device identity read off the wire.

A decoder that believes whatever id a frame carries lets line noise create devices: an
"IMEI" with a NUL, a control character or a kilobyte of garbage lands in the
unknown-devices inbox and in the database, where (stored with NUL escaped as ``\\x00``) it
no longer even matches the id the next frame brings. So an id is accepted only if it is
what a real device could be registered under:

- printable ASCII (``!`` to ``~``), because ids are typed, shown and compared as text;
- no space and no comma, because the text protocols separate fields with them, so one
  in an id means the frame was cut wrong;
- 1 to ``MAX_DEVICE_ID`` characters, the width of the ``device_id`` column (String(32)).

Protocols that promise an IMEI (the Teltonika handshake, GT06 login, Queclink, Omni)
are held to exactly 15 ASCII digits on top of that; Queclink text reports may instead
carry a 14-hex-digit MEID (CDMA units), as Traccar's gl200 decoder accepts.

Pure functions, no IO: bad input raises FrameError, which the gateway already treats as
"drop this frame", never anything else.
"""

from __future__ import annotations

import re

from app.integrations.iot.records import FrameError

MAX_DEVICE_ID = 32  # the width of the device_id column
_DEVICE_ID_RE = re.compile(rf"[!-+\--~]{{1,{MAX_DEVICE_ID}}}")  # printable, no space or comma
_IMEI_RE = re.compile(r"[0-9]{15}")  # [0-9], not \d: \d also matches non-ASCII digits
_MEID_RE = re.compile(r"[0-9A-F]{14}")


def is_plausible_device_id(value: object) -> bool:
    """True if ``value`` could be a device id: printable ASCII, no space/comma, 1..32 chars."""
    return isinstance(value, str) and _DEVICE_ID_RE.fullmatch(value) is not None


def _shown(value: str) -> str:
    """The id as a log line can show it: escaped, and cut so garbage cannot flood the log."""
    return repr(value[:40]) + (f" (+{len(value) - 40} chars)" if len(value) > 40 else "")


def check_device_id(value: str, protocol: str) -> str:
    """``value`` if it is a plausible device id, else FrameError naming the protocol."""
    if is_plausible_device_id(value):
        return value
    if not value:
        raise FrameError(f"{protocol} frame carries an empty device id")
    if len(value) > MAX_DEVICE_ID:
        raise FrameError(
            f"{protocol} device id of {len(value)} chars is over {MAX_DEVICE_ID}: {_shown(value)}"
        )
    raise FrameError(
        f"{protocol} device id has a character outside printable ASCII or a space/comma: "
        f"{_shown(value)}"
    )


def check_imei(value: str, protocol: str, *, allow_meid: bool = False) -> str:
    """``value`` if it is a 15-digit IMEI (or, with ``allow_meid``, a 14-hex MEID)."""
    check_device_id(value, protocol)
    if _IMEI_RE.fullmatch(value) or (allow_meid and _MEID_RE.fullmatch(value)):
        return value
    wanted = "a 15-digit IMEI or 14-hex MEID" if allow_meid else "a 15-digit IMEI"
    raise FrameError(f"{protocol} device id is not {wanted}: {_shown(value)}")
