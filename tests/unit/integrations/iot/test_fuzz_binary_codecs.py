"""Property tests for the Teltonika, GT06 and JT/T 808 framers and decoders.

Bad input must never crash a connection handler: decoders and framers may only raise
FrameError, framers never hand out more than ``max_frame`` bytes, and a valid frame is
still found after any garbage (after a FrameError the framer has dropped the offending
bytes, so feeding on is how the gateway, or this test, carries on).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.iot.codecs import gt06, jt808, teltonika
from app.integrations.iot.codecs.gt06_build import (
    build_alarm,
    build_command_reply,
    build_heartbeat,
    build_location,
    build_login,
)
from app.integrations.iot.codecs.jt808_build import Fix
from app.integrations.iot.codecs.jt808_build import build_auth as jt808_auth
from app.integrations.iot.codecs.jt808_build import build_batch as jt808_batch
from app.integrations.iot.codecs.jt808_build import build_location as jt808_location
from app.integrations.iot.codecs.jt808_build import build_register as jt808_register
from app.integrations.iot.codecs.jt808_build import build_terminal_response as jt808_response
from app.integrations.iot.codecs.teltonika_build import (
    AvlSample,
    build_avl_packet,
    build_command_response,
    build_imei_handshake,
)
from app.integrations.iot.records import Codec, FrameError, Framer
from tests.unit.integrations.iot.binary_corpus import decoder_lines

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis directory in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)
CODECS: dict[str, Codec] = {
    "teltonika": teltonika.CODEC,
    "gt06": gt06.CODEC,
    "jt808": jt808.CODEC,
}
CORPUS: dict[str, list[bytes]] = {
    name: [
        bytes.fromhex(x["frame"])
        for x in decoder_lines(name)
        if x.get("crc_ok") and not x.get("console_gap")
    ]
    for name in CODECS
}

when = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
lat = st.floats(-90, 90, allow_nan=False)
lon = st.floats(-180, 180, allow_nan=False)
imei = st.text("0123456789", min_size=15, max_size=15)
serial = st.integers(0, 0xFFFF)

teltonika_frames = st.one_of(
    imei.map(build_imei_handshake),
    st.lists(
        st.builds(
            AvlSample,
            when,
            lat,
            lon,
            st.integers(0, 300),
            st.integers(0, 359),
            st.none() | st.integers(0, 100),
            st.none() | st.booleans(),
            st.none() | st.floats(0, 4_000_000),
        ),
        min_size=1,
        max_size=5,
    ).map(build_avl_packet),
    st.text("abcdefgh 0123:", min_size=1, max_size=40).map(build_command_response),
    st.sampled_from(CORPUS["teltonika"]),
)
gt06_frames = st.one_of(
    # A serial of 0x0D0A would put the stop bytes inside a login, which the framer may cut
    # at a read boundary (see Gt06Framer._short_frame_end), so logins use lower serials.
    st.builds(build_login, imei, st.integers(0, 0x0D00)),
    st.builds(
        build_location,
        when,
        lat,
        lon,
        st.integers(0, 255),
        st.integers(0, 359),
        serial=serial,
        odometer_km=st.none() | st.floats(0, 4_000_000),
    ),
    st.builds(build_heartbeat, serial, voltage_level=st.integers(0, 6), blocked=st.booleans()),
    st.builds(build_alarm, when, lat, lon, st.integers(0, 0x40), serial=serial),
    st.builds(build_command_reply, st.text("ABCxyz,#0123", min_size=1, max_size=40), serial),
    st.sampled_from(CORPUS["gt06"]),
)
phone = st.text("0123456789", min_size=1, max_size=20)
jt808_fix = st.builds(
    Fix,
    when,
    lat,
    lon,
    st.floats(0, 6000),
    st.integers(0, 359),
    st.integers(-500, 8000),
    odometer_km=st.none() | st.floats(0, 400_000_000),
    battery_pct=st.none() | st.integers(0, 100),
    satellites=st.none() | st.integers(0, 40),
    alarm_flags=st.integers(0, 0xFFFFFFFF),
)
jt808_frames = st.one_of(
    st.builds(jt808_register, phone, serial),
    st.builds(jt808_auth, phone, st.text("0123456789ABC", max_size=20), serial),
    st.builds(jt808_location, phone, jt808_fix, serial),
    st.builds(jt808_batch, phone, st.lists(jt808_fix, min_size=1, max_size=5), serial),
    st.builds(jt808_response, phone, serial, st.sampled_from([0x8105, 0x8201]), serial),
    st.sampled_from([f for f in CORPUS["jt808"] if 0x7E not in f[1:-1]]),
)
VALID_FRAMES = {"teltonika": teltonika_frames, "gt06": gt06_frames, "jt808": jt808_frames}


def _feed_all(framer: Framer, chunks: list[bytes]) -> list[bytes]:
    """Feed every chunk, carrying on after FrameErrors as a tolerant caller would."""
    frames: list[bytes] = []
    for chunk in chunks:
        data = chunk
        for _ in range(100_000):
            try:
                frames += framer.feed(data)
                break
            except FrameError:
                data = b""
        else:
            raise AssertionError("framer kept raising without consuming input")
    return frames


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(data=st.binary(max_size=600), strict=st.booleans())
def test_decode_random_bytes_raises_only_frame_error(name: str, data: bytes, strict: bool) -> None:
    try:
        result = CODECS[name].decode(data, device_id="1", strict=strict)
    except FrameError as exc:
        assert str(exc)
    else:
        assert all(r.raw == data for r in result.records)


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_decode_mutated_frames_raises_only_frame_error(
    name: str, data: st.DataObject, strict: bool
) -> None:
    frame = bytearray(data.draw(VALID_FRAMES[name]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(frame) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            frame[at] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            frame[at:at] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and len(frame) > 1:
            del frame[at]
        elif action == "truncate":
            del frame[max(at, 1) :]
    try:
        result = CODECS[name].decode(bytes(frame), device_id="1", strict=strict)
    except FrameError:
        return
    assert result.records


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(frame=st.data())
def test_valid_frames_decode_strictly(name: str, frame: st.DataObject) -> None:
    data = frame.draw(VALID_FRAMES[name])
    result = CODECS[name].decode(data, device_id="1")
    assert result.records and all(r.checksum_ok for r in result.records)


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(
    data=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    max_frame=st.integers(32, 4096),
)
def test_framer_never_exceeds_max_frame(
    name: str, data: bytes, cuts: list[int], max_frame: int
) -> None:
    frames = _feed_all(CODECS[name].framer(max_frame), _chunks(data, cuts))
    assert all(0 < len(f) <= max_frame for f in frames)


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(data=st.data(), garbage=st.binary(max_size=300), cuts=st.lists(st.integers(0, 2000)))
def test_framer_resynchronises_after_garbage(
    name: str, data: st.DataObject, garbage: bytes, cuts: list[int]
) -> None:
    frame = data.draw(VALID_FRAMES[name])
    frames = _feed_all(CODECS[name].framer(), _chunks(garbage + frame, cuts))
    assert frame in frames


@pytest.mark.parametrize("name", CODECS)
@FUZZ
@given(data=st.data(), cuts=st.lists(st.integers(0, 5000), max_size=20))
def test_framer_output_does_not_depend_on_read_boundaries(
    name: str, data: st.DataObject, cuts: list[int]
) -> None:
    frames = data.draw(st.lists(VALID_FRAMES[name], min_size=1, max_size=4))
    stream = b"".join(frames)
    assert _feed_all(CODECS[name].framer(), _chunks(stream, cuts)) == frames
