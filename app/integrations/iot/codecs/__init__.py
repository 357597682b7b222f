"""Wire-protocol codecs, one module per protocol, each exposing ``CODEC``.

The registry imports lazily so that a process which speaks one protocol does not pay for
the others, and so that adding a protocol is one line here.
"""

from __future__ import annotations

import importlib

from app.integrations.iot.records import Codec

_MODULES: dict[str, str] = {
    "omni": "app.integrations.iot.codecs.omni",
    "gl200": "app.integrations.iot.codecs.gl200",
    "teltonika": "app.integrations.iot.codecs.teltonika",
    "gt06": "app.integrations.iot.codecs.gt06",
    "nmea": "app.integrations.iot.codecs.nmea",
    "jt808": "app.integrations.iot.codecs.jt808",
    "segway": "app.integrations.iot.codecs.segway",
    "okai": "app.integrations.iot.codecs.okai",
}

PROTOCOLS: tuple[str, ...] = tuple(_MODULES)


def get_codec(protocol: str) -> Codec:
    """Return the codec for ``protocol``; KeyError names the known ones."""
    try:
        module = _MODULES[protocol]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}") from None
    return importlib.import_module(module).CODEC
