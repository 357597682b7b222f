"""Property tests for the omni, gl200, okai, nmea and segway framers and decoders.

Whatever bytes arrive, only FrameError may escape (the gateway turns it into a log line
and, for framers, a closed connection); a framer never hands out more than ``max_frame``
bytes; and a real frame after line noise is still found.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.records import DecodeResult, FrameError
from tests.helpers.iot_corpus import device_frames

PROTOCOLS = ("omni", "gl200", "nmea", "okai", "segway")
TERMINATOR = {"omni": b"\r\n", "gl200": b"", "nmea": b"\r\n", "okai": b"", "segway": b"\n"}
# Bytes left out of resync noise: a "+" (or the "-" of a Protocol Pro buffered report) can
# open a length-framed binary header in gl200, and a length field may legitimately swallow
# what follows it (Traccar behaves the same).
NOISE_FORBIDDEN = {
    "omni": b"",
    "gl200": b"+-",
    "nmea": b"",
    "okai": b"+-",
    "segway": b"",  # okai: gl200 framer
}
SAMPLES = {
    p: [f.data for f in device_frames(p) if p != "nmea" or f.data.startswith(b"$")]
    for p in PROTOCOLS
}
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def decode_or_frame_error(codec, frame: bytes, strict: bool, device_id: str | None) -> None:
    try:
        result = codec.decode(frame, device_id=device_id, strict=strict)
    except FrameError:
        return
    assert isinstance(result, DecodeResult)
    assert all(record.raw == frame for record in result.records)


@st.composite
def mutated(draw, protocol: str) -> bytes:
    frame = bytearray(draw(st.sampled_from(SAMPLES[protocol])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("replace", "delete", "insert", "truncate")))
        at = draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "replace" and frame:
            frame[at] = draw(st.integers(0, 255))
        elif op == "delete" and frame:
            del frame[at]
        elif op == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del frame[at:]
    return bytes(frame)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(
    data=st.binary(max_size=300), strict=st.booleans(), device_id=st.sampled_from([None, "dev-1"])
)
def test_decoder_survives_random_bytes(protocol: str, data: bytes, strict: bool, device_id) -> None:
    decode_or_frame_error(get_codec(protocol), data, strict, device_id)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_decoder_survives_mutated_real_frames(protocol: str, data, strict: bool) -> None:
    frame = data.draw(mutated(protocol))
    decode_or_frame_error(get_codec(protocol), frame, strict, "dev-1")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(
    chunks=st.lists(st.binary(max_size=200), max_size=12),
    max_frame=st.integers(min_value=16, max_value=512),
)
def test_framer_never_exceeds_max_frame(protocol: str, chunks: list[bytes], max_frame: int) -> None:
    framer = get_codec(protocol).framer(max_frame=max_frame)
    for chunk in chunks:
        try:
            frames = framer.feed(chunk)
        except FrameError:
            continue
        assert all(0 < len(frame) <= max_frame for frame in frames)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.data())
def test_framer_splits_mutated_streams_safely(protocol: str, data) -> None:
    stream = b"".join(data.draw(st.lists(mutated(protocol), min_size=1, max_size=5)))
    framer = get_codec(protocol).framer(max_frame=1024)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        try:
            frames = framer.feed(stream[start:end])
        except FrameError:
            continue
        assert all(len(frame) <= 1024 for frame in frames)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.data())
def test_framer_resynchronises_after_noise(protocol: str, data) -> None:
    noise = data.draw(st.binary(max_size=200))
    noise = bytes(b for b in noise if b not in NOISE_FORBIDDEN[protocol])
    frame = data.draw(st.sampled_from(SAMPLES[protocol]))
    stream = noise + frame + TERMINATOR[protocol]
    split = data.draw(st.integers(0, len(stream)))
    framer = get_codec(protocol).framer()
    frames = framer.feed(stream[:split]) + framer.feed(stream[split:])
    assert any(out.endswith(frame) for out in frames)
    if protocol != "nmea":  # nmea keeps an id-shaped prefix glued to the sentence
        assert frames[-1] == frame
