"""Queclink binary frames (classic HEX mode and Protocol Pro) against the captured corpus.

Besides the three corpus frames, two vendor examples from the Queclink GV300CAN protocol
document (heartbeat) and Traccar's +INF test frame cover the types the corpus lacks.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.gl200 import Gl200Codec
from app.integrations.iot.codecs.gl200_binary import Reader
from app.integrations.iot.records import FrameError, RecordKind
from tests.unit.integrations.iot.test_frames_gl200 import BINARY, assert_meets_expectations, gap

CODEC = get_codec("gl200")
BY_HEAD: dict[bytes, bytes] = {}
for _frame in BINARY:  # the first frame of each header: the one these tests were written for
    BY_HEAD.setdefault(_frame.data[:4], _frame.data)
EVT, RSP, PRO = BY_HEAD[b"+EVT"], BY_HEAD[b"+RSP"], BY_HEAD[b"+\x00\x008"]
HEARTBEAT = bytes.fromhex("2B484244EF204B03060319564F5F0300520A0407E3041A082D010455D37B0D0A")
INFO = bytes.fromhex(
    "2b494e4601fd7f0076676231303000000045010202090104020500004100054007e107150b061d0000003f"
    "010e02580000000000d0312a1013648935103226313921591f1200000000000302680003189c1ac3001b"
    "02680003189c1ac4000d02680003189c1ac5001207e107150b0d3704f658060d0a"
)
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def crc16_ccitt(data: bytes) -> int:
    """Independent bitwise reference for the CRC the classic frames carry."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) ^ (byte >> bit & 1)
            crc = ((crc << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return crc


def reseal(frame: bytes) -> bytes:
    """A classic frame with its length field (offset 9) and CRC made to fit its bytes."""
    body = bytearray(frame)
    body[9:11] = len(body).to_bytes(2, "big")
    body[-4:-2] = crc16_ccitt(bytes(body[4:-4])).to_bytes(2, "big")
    return bytes(body)


def test_corpus_has_every_binary_frame_of_traccars_tests() -> None:
    assert len(BINARY) == 8 and set(BY_HEAD) == {b"+EVT", b"+RSP", b"+\x00\x008", b"+INF", b"+ACK"}


@pytest.mark.parametrize("frame", [f for f in BINARY if not gap(f)], ids=lambda f: f.test_id)
def test_binary_corpus_frame_decodes_as_traccar_expects(frame) -> None:
    records = CODEC.decode(frame.data).records  # strict: every corpus CRC is right
    if frame.kind == "none":  # a command ACK: Traccar gives no position
        assert not any(r.kind is RecordKind.POSITION for r in records)
        return
    assert records and all(r.checksum_ok and r.raw == frame.data for r in records)
    # with mask bit 6 +INF and +RSP name the device (first 8 bytes) instead of its IMEI
    names = {"865084030003675", "865134050947226", "gb100", "gb100-Do"}
    assert {r.device_id for r in records} <= names
    assert_meets_expectations(frame, records)


def test_event_frame_values() -> None:
    (record,) = CODEC.decode(EVT).records
    assert record.fix_time == datetime(2017, 8, 1, 8, 36, 26, tzinfo=UTC)
    assert (record.latitude, record.longitude) == (39.611162, -9.068048)
    assert (record.speed_kmh, record.course_deg, record.altitude_m) == (22.1, 242, 126)
    assert (record.battery_pct, record.odometer_km, record.satellites) == (100, 528.8, 7)
    assert record.attributes["type"] == "VGN" and record.attributes["ignition"] is True
    assert record.firmware == "2.09" and record.attributes["version"] == "450102"


def test_compressed_track_continues_the_event_one_fix_per_second() -> None:
    records = CODEC.decode(RSP).records
    assert len(records) == 268
    first, last = records[0], records[-1]
    assert first.fix_time == datetime(2017, 8, 1, 8, 36, 27, tzinfo=UTC)
    assert (first.latitude, first.longitude, first.speed_kmh) == (39.611129, -9.068108, 22.7)
    assert all(b.fix_time > a.fix_time for a, b in itertools.pairwise(records))
    assert last.fix_time == datetime(2017, 8, 1, 8, 40, 56, tzinfo=UTC)
    # tail readings go on the last fix only, as on the ASCII path
    assert (last.odometer_km, last.attributes["trip_km"], last.battery_pct) == (530.7, 1.9, 100)
    assert first.odometer_km is None and first.battery_pct is None


def test_protocol_pro_full_location() -> None:
    result = CODEC.decode(PRO)
    (record,) = result.records
    assert record.kind is RecordKind.POSITION and record.device_id == "865134050947226"
    assert (record.latitude, record.longitude) == (44.833422, -91.543308)
    assert record.fix_time == datetime(2026, 6, 26, 19, 45, 53, tzinfo=UTC)
    assert (record.altitude_m, record.satellites, record.attributes["hdop"]) == (434.1, 5, 2.2)
    assert record.attributes["fix_state"] == 2 and result.ack == b""
    assert Gl200Codec(sack_all=True).decode(PRO).ack == b"+SACK:010F$"


def test_binary_heartbeat_is_answered_like_the_text_one() -> None:
    result = CODEC.decode(HEARTBEAT)
    (record,) = result.records
    assert result.ack == b"+SACK:GTHBD,4B0306,0455$"
    assert (record.kind, record.device_id) == (RecordKind.STATUS, "867995030082104")
    assert record.fix_time == datetime(2019, 4, 26, 8, 45, 1, tzinfo=UTC)


def test_info_frame_gives_identity_and_firmware() -> None:
    (record,) = CODEC.decode(INFO).records
    assert record.kind is RecordKind.STATUS and record.firmware == "2.09"
    assert record.device_id == "gb100"  # mask bit 6: a device name instead of the IMEI
    assert CODEC.decode(INFO, device_id="865084030003675").records[0].device_id.isdigit()


def test_location_by_call_skips_the_caller_number() -> None:
    """+RSP type 3 (GTLCB): the number before the point is read up to its 0xF filler nibble,
    as Traccar does, and the point and mileage tail then line up with the mask."""
    (frame,) = [f for f in BINARY if f.data[4] == 3]
    (record,) = CODEC.decode(frame.data).records
    assert record.device_id == "gb100-Do" and record.attributes["device_name"] == "gb100-Do"
    assert record.kind is RecordKind.POSITION and record.valid_fix
    assert (record.latitude, record.longitude) == (31.164093, 121.392449)
    assert record.fix_time == datetime(2017, 6, 19, 11, 43, 15, tzinfo=UTC)
    assert (record.course_deg, record.altitude_m, record.battery_pct) == (272, 69, 100)
    assert (record.odometer_km, record.attributes["trip_km"]) == (1.6, 0.3)
    no_filler = bytearray(frame.data)
    no_filler[36] = 0x00  # the 0x5F that ends the number
    with pytest.raises(FrameError):
        CODEC.decode(reseal(bytes(no_filler)))


def test_buffered_reports_are_acknowledged_live_ones_only_in_sack_mode() -> None:
    buffered = b"+BSP" + RSP[4:]  # the CRC starts after the header
    assert CODEC.decode(RSP).ack == b"" and CODEC.decode(EVT).ack == b""
    assert CODEC.decode(buffered).ack == b"+SACK:19E6$"
    assert CODEC.decode(b"+BVT" + EVT[4:]).ack == b"+SACK:19E2$"
    assert Gl200Codec(sack_all=True).decode(EVT).ack == b"+SACK:19E2$"


@pytest.mark.parametrize("frame", [EVT, RSP, PRO, HEARTBEAT, INFO], ids=lambda f: f[:4].hex())
def test_bad_checksum_is_refused_strict_and_marked_lenient(frame: bytes) -> None:
    crc_at = -2 if frame[1] == 0 else -4
    broken = bytearray(frame)
    broken[crc_at] ^= 0x5A
    with pytest.raises(FrameError, match="CRC"):
        CODEC.decode(bytes(broken))
    records = CODEC.decode(bytes(broken), strict=False).records
    assert records and not any(r.checksum_ok for r in records)


@pytest.mark.parametrize("frame", [EVT, RSP, PRO, HEARTBEAT, INFO], ids=lambda f: f[:4].hex())
@pytest.mark.parametrize("strict", [True, False])
def test_truncated_frames_raise_frame_error(frame: bytes, strict: bool) -> None:
    for size in range(0, len(frame), max(1, len(frame) // 150)):
        with pytest.raises(FrameError):
            CODEC.decode(frame[:size], strict=strict)


@pytest.mark.parametrize("frame", [EVT, RSP], ids=lambda f: f[:4].hex())
def test_shortened_body_with_consistent_length_and_crc_raises_frame_error(frame: bytes) -> None:
    """Only the layout can notice these: length field and CRC agree with the bytes."""
    for cut in range(24, len(frame) - 4, max(1, len(frame) // 100)):
        with pytest.raises(FrameError):
            CODEC.decode(reseal(frame[:cut] + frame[cut + 1 :]))


def test_mask_with_fields_of_unknown_size_is_refused() -> None:
    frame = bytearray(EVT)
    frame[5] |= 0x01  # mask bit 24 (RFID): no public width
    with pytest.raises(FrameError, match="mask"):
        CODEC.decode(reseal(bytes(frame)))


def test_reader_never_reads_past_its_end() -> None:
    reader = Reader(b"\x01\x02\x03", 1, 2)
    assert reader.uint(1) == 2
    with pytest.raises(FrameError):
        reader.uint(1)


@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_mutated_binary_frames_raise_only_frame_error(data, strict: bool) -> None:
    frame = bytearray(data.draw(st.sampled_from([EVT, RSP, PRO, HEARTBEAT, INFO])))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(4, len(frame) - 1))
        frame[at] = data.draw(st.integers(0, 255))
    candidate = reseal(bytes(frame)) if frame[:4] in (b"+EVT", b"+RSP") else bytes(frame)
    try:
        result = CODEC.decode(candidate, strict=strict)
    except FrameError:
        return
    assert result.records and all(r.raw == candidate for r in result.records)
