"""Queclink Protocol Pro heartbeats (``+ 10``) and buffered reports (``- 00``): framing, decoding.

The heartbeat is the vendor's own example (GL601 Protocol Pro ``frames/heartbeat.html`` as
quoted in public notes); its length and CRC-8 close, which is what makes the layout
trustworthy. The buffered report is the corpus Protocol Pro report with its first byte
turned into ``-`` and its CRC-8 recomputed, which is all the vendor says differs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.iot.codecs.gl200 import Gl200Codec
from app.integrations.iot.codecs.gl200_framing import is_binary
from app.integrations.iot.codecs.gl200_pro import _crc8
from app.integrations.iot.records import FrameError, RecordKind
from tests.unit.integrations.iot.test_frames_gl200 import TEXT
from tests.unit.integrations.iot.test_frames_gl200_binary import PRO

HEARTBEAT = bytes.fromhex("2B1018012345678901234580010007005E362F5A10F21424")
CODEC = Gl200Codec()
TEXT_FRAME = TEXT[0].data


def reseal(frame: bytes | bytearray) -> bytes:
    body = bytearray(frame)
    body[-2] = _crc8(bytes(body[:-2]))
    return bytes(body)


BUFFERED = reseal(b"-" + PRO[1:])
FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def feed_bytewise(stream: bytes) -> list[bytes]:
    framer = CODEC.framer()
    frames: list[bytes] = []
    for i in range(len(stream)):
        frames += framer.feed(stream[i : i + 1])
    return frames


def test_vendor_heartbeat_closes_on_length_and_crc() -> None:
    assert len(HEARTBEAT) == HEARTBEAT[2] == 24 and _crc8(HEARTBEAT[:-2]) == HEARTBEAT[-2]
    assert is_binary(HEARTBEAT)


def test_heartbeat_decodes_to_a_status_record() -> None:
    result = CODEC.decode(HEARTBEAT)
    (record,) = result.records
    assert (record.kind, record.device_id) == (RecordKind.STATUS, "123456789012345")
    assert record.fix_time == datetime(2020, 2, 2, 2, 9, 30, tzinfo=UTC)  # 0x5E362F5A
    assert record.attributes == {"heartbeat": True, "format": "pro", "version": "80010007"}
    assert record.checksum_ok and record.raw == HEARTBEAT


def test_heartbeat_is_answered_only_in_sack_mode() -> None:
    assert CODEC.decode(HEARTBEAT).ack == b""
    assert Gl200Codec(sack_all=True).decode(HEARTBEAT).ack == b"+SACK:10F2$"


def test_heartbeat_crc_is_checked_in_strict_mode_only() -> None:
    broken = HEARTBEAT[:-2] + bytes([HEARTBEAT[-2] ^ 0xFF]) + b"$"
    with pytest.raises(FrameError, match="CRC-8"):
        CODEC.decode(broken)
    assert CODEC.decode(broken, strict=False).records[0].checksum_ok is False


@pytest.mark.parametrize(
    "frame",
    [
        HEARTBEAT[:-1],
        HEARTBEAT + b"\x00",
        HEARTBEAT[:2] + b"\x19" + HEARTBEAT[3:],
        HEARTBEAT[:-1] + b"#",
    ],
)
def test_misshapen_heartbeat_is_a_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        CODEC.decode(frame, strict=False)


def test_buffered_report_is_stored_like_the_live_one_and_always_acked() -> None:
    live, buffered = CODEC.decode(PRO), CODEC.decode(BUFFERED)
    assert [replace(r, raw=PRO) for r in buffered.records] == list(live.records)
    assert live.ack == b"" and buffered.ack == b"+SACK:010F$"
    assert Gl200Codec(sack_all=True).decode(BUFFERED).ack == b"+SACK:010F$"


def test_pro_frame_must_start_with_plus_or_minus() -> None:
    with pytest.raises(FrameError, match="not \\+ or -"):
        CODEC.decode(reseal(b"*" + PRO[1:]))


def test_framer_cuts_heartbeat_buffered_live_and_text_in_one_stream() -> None:
    frames = [HEARTBEAT, BUFFERED, TEXT_FRAME, PRO, HEARTBEAT]
    stream = b"\r\nnoise-1-" + HEARTBEAT + BUFFERED + b"--" + TEXT_FRAME + PRO + HEARTBEAT
    assert CODEC.framer().feed(stream) == frames
    assert feed_bytewise(stream) == frames


def test_a_dollar_inside_a_heartbeat_does_not_cut_it() -> None:
    inner = bytearray(HEARTBEAT)
    inner[20:22] = b"$$"  # count 0x2424
    inner = reseal(inner)
    assert feed_bytewise(inner + TEXT_FRAME) == [inner, TEXT_FRAME]
    assert CODEC.decode(inner).records[0].device_id == "123456789012345"


def test_heartbeat_header_with_another_length_is_noise() -> None:
    fake = b"+\x10\x30" + bytes(30)
    assert CODEC.framer().feed(fake + HEARTBEAT) == [HEARTBEAT]


def test_a_minus_not_followed_by_zero_is_skipped() -> None:
    assert CODEC.framer().feed(b"-1.5,-" + TEXT_FRAME) == [TEXT_FRAME]


@FUZZ
@given(cuts=st.lists(st.integers(0, 200), max_size=8))
def test_framing_does_not_depend_on_read_boundaries(cuts: list[int]) -> None:
    stream = HEARTBEAT + BUFFERED + TEXT_FRAME + PRO
    framer, frames, last = CODEC.framer(), [], 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        frames += framer.feed(stream[last:cut])
        last = cut
    assert frames == [HEARTBEAT, BUFFERED, TEXT_FRAME, PRO]
