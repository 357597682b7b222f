"""A complete frame and the start of the next in one read: the slow-sender timer must run.

Before, only a read that completed no frame started the partial-frame timer, so a sender
that always glued half a frame to a whole one was cut by nothing but the 30-minute idle
timeout. Checked for every real codec's framer, over a real socket.
"""

from __future__ import annotations

import logging

import pytest

from app.integrations.iot.codecs import PROTOCOLS, get_codec
from app.integrations.iot.records import FrameError
from app.integrations.iot.sink import InMemorySink
from tests.helpers.iot_corpus import device_frames
from tests.unit.integrations.iot.gateway_helpers import LineClient, running_gateway


def whole_and_partial(protocol: str) -> tuple[bytes, bytes, bytes]:
    """Wire bytes of a corpus frame the codec decodes strictly, the frame the framer cuts
    from them, and their first half (an unfinished frame)."""
    codec = get_codec(protocol)
    for frame in device_frames(protocol):
        data = frame.data if protocol != "nmea" else frame.data.rstrip(b"\r\n") + b"\r\n"
        framer = codec.framer()
        try:
            cut = framer.feed(data)
            if len(cut) != 1 or framer.buffered:
                continue
            codec.decode(cut[0], strict=True)
        except FrameError:
            continue
        partial = data[: max(2, len(data) // 2)]
        probe = codec.framer()
        if probe.feed(partial) == [] and probe.buffered:
            return data, cut[0], partial
    raise AssertionError(f"no usable {protocol} frame in the corpus")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_framer_reports_the_unfinished_frame_after_a_complete_one(protocol) -> None:
    wire, frame, partial = whole_and_partial(protocol)
    framer = get_codec(protocol).framer()
    assert framer.feed(wire + partial) == [frame]
    assert framer.buffered == len(partial)
    assert framer.feed(wire[len(partial) :]) == [frame]
    assert framer.buffered == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_partial_frame_glued_to_a_complete_one_is_cut(protocol, caplog) -> None:
    wire, _frame, partial = whole_and_partial(protocol)
    caplog.set_level(logging.INFO, logger="app.integrations.iot.connection")
    sink = InMemorySink(accept_all=True)
    codec = get_codec(protocol)
    async with running_gateway(sink, codec, partial_frame_timeout=0.2) as gateway:
        client = await LineClient.connect(gateway)
        await client.send_raw(wire + partial)
        assert await client.closed_by_server()
        assert "partial frame stalled" in caplog.text
        await client.close()
