"""Which speaker plays which protocol."""

from __future__ import annotations

from app.integrations.iot.simulator.speakers import (
    Gl200Speaker,
    OkaiSpeaker,
    OmniSpeaker,
    SegwaySpeaker,
    Speaker,
)
from app.integrations.iot.simulator.speakers_binary import Gt06Speaker, TeltonikaSpeaker
from app.integrations.iot.simulator.speakers_jt808 import Jt808Speaker

SPEAKERS: dict[str, type] = {
    "omni": OmniSpeaker,
    "gl200": Gl200Speaker,
    "teltonika": TeltonikaSpeaker,
    "gt06": Gt06Speaker,
    "jt808": Jt808Speaker,
    "segway": SegwaySpeaker,
    "okai": OkaiSpeaker,
}


def make_speaker(protocol: str, device_id: str) -> Speaker:
    """The speaker for ``protocol``; KeyError names the ones the simulator can play."""
    try:
        return SPEAKERS[protocol](device_id)
    except KeyError:
        raise KeyError(
            f"the simulator cannot play {protocol!r}; it plays {', '.join(SPEAKERS)}"
        ) from None
