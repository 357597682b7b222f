"""JT/T 808 codec against Traccar's HuabaoProtocolDecoderTest frames, its builders and edges."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.jt808 import (
    CODEC,
    MSG_GENERAL_RESPONSE,
    MSG_REGISTER_RESPONSE,
    Header,
    Jt808Codec,
    build_message,
    escape,
    terminal_address,
    unescape,
    xor,
)
from app.integrations.iot.codecs.jt808_build import (
    Fix,
    build_auth,
    build_batch,
    build_heartbeat,
    build_location,
    build_register,
    build_terminal_response,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.unit.integrations.iot.binary_corpus import (
    EXPECT_TO_FIELD,
    assert_matches_expect,
    assert_plausible_fix,
    line_id,
    load,
)

LINES = [x for x in load("jt808") if x["kind"] in ("position", "attributes", "none")]
PHONE = "013511221122"
WHEN = datetime(2026, 5, 4, 10, 11, 12, tzinfo=UTC)
# Traccar test frames we knowingly decode differently, and why.
GAPS = {
    "testDecode-3": "0x0900 transparent OBD (0xF0 box): vendor layout named as ignored",
    "testDecode-15": "0x5501 is the JT600 binary location in 808 framing: named as ignored",
    "testDecode-17": "0x5502 JT600 blind-area location: named as ignored",
    "testDecode-18": "0x5501 JT600 binary location: named as ignored",
}


def _frame(line: dict) -> bytes:
    return bytes.fromhex(line["frame"]) if line["encoding"] == "hex" else line["frame"].encode()


def _agrees(line: dict) -> bool:
    """Whether our decode gives what the Traccar test asserts (kind and every expectation)."""
    try:
        result = CODEC.decode(_frame(line), device_id=PHONE, strict=line.get("crc_ok") is not False)
    except FrameError:
        return False
    records = result.records
    positions = [r for r in records if r.kind is RecordKind.POSITION]
    if line["kind"] == "position" and not positions:
        return False
    if line["kind"] == "none" and positions:
        return False
    for key, wanted in line["expect"].items():
        if key in EXPECT_TO_FIELD:
            try:
                assert_matches_expect(records, {key: wanted})
            except AssertionError:
                return False
            continue
        values = [r.attributes.get(key) for r in records]
        if isinstance(wanted, float):
            if not any(isinstance(v, float) and math.isclose(v, wanted) for v in values):
                return False
        elif wanted not in values:
            return False
    return True


def test_registry_returns_this_codec() -> None:
    assert get_codec("jt808") is CODEC and CODEC.name == "jt808"


@pytest.mark.parametrize("line", LINES, ids=line_id)
def test_corpus_frame_decodes_as_traccar_expects(line: dict) -> None:
    strict = line.get("crc_ok") is not False
    result = CODEC.decode(_frame(line), device_id=PHONE, strict=strict)
    assert result.records and result.records[0].raw == _frame(line)
    for record in result.records:
        if record.kind is RecordKind.POSITION:
            assert_plausible_fix(record)
    assert _agrees(line) is (line_id(line) not in GAPS), GAPS.get(line_id(line), "disagrees")


def test_agreement_with_traccar(record_property) -> None:
    valid = [x for x in LINES if x.get("crc_ok") is not False]
    agreed = sum(_agrees(x) for x in valid)
    figure = f"{agreed}/{len(valid)} ({100 * agreed / len(valid):.0f} %)"
    record_property("jt808_traccar_agreement", figure)
    print(f"JT/T 808 agreement with Traccar's HuabaoProtocolDecoderTest: {figure}")
    assert agreed == len(valid) - len(GAPS)


def test_gaps_name_message_ids_the_codec_ignores_by_name() -> None:
    for line in LINES:
        if line_id(line) in GAPS:
            (record,) = CODEC.decode(_frame(line), device_id=PHONE).records
            assert record.kind is RecordKind.OTHER and record.attributes["ignored"]


def test_bad_checksum_is_refused_strictly_and_marked_leniently() -> None:
    (line,) = [x for x in LINES if x.get("crc_ok") is False]
    with pytest.raises(FrameError, match="XOR checksum mismatch"):
        CODEC.decode(_frame(line))
    (record,) = CODEC.decode(_frame(line), strict=False).records
    assert record.checksum_ok is False and record.kind is RecordKind.POSITION


def test_traccar_frames_read_field_by_field() -> None:
    """The 0x0200 of Traccar's seq 38 (SOS, S/W hemispheres) and its Beijing-time clock."""
    (line,) = [x for x in LINES if x["seq"] == 38]
    result = CODEC.decode(_frame(line))
    (record,) = result.records
    assert record.device_id == "094027587492"
    assert record.fix_time == datetime(2013, 4, 12, 8, 49, 52, tzinfo=UTC)  # 16:49:52 GMT+8
    assert (record.latitude, record.longitude) == pytest.approx((50.871735, -1.255923))
    assert (record.speed_kmh, record.course_deg, record.altitude_m) == (2.0, 0.0, 0.0)
    assert record.alarms == ("sos",) and record.odometer_km == 1.8
    header = Header(unescape(_frame(line)[1:-1]))
    assert result.ack == build_message(
        MSG_GENERAL_RESPONSE, b"\x00\x0a\x02\x00\x00", "094027587492", 0
    )
    assert header.serial == 10


def test_binary_imei_in_the_phone_field_is_named_as_traccar_names_it() -> None:
    (line,) = [x for x in LINES if x["seq"] == 3]
    (record,) = CODEC.decode(_frame(line)).records
    assert record.device_id == "861652050068820"
    assert terminal_address("861652050068820") == (False, bytes.fromhex("4e5de66fba22"))


def test_escaping_round_trips_and_the_framer_unescapes_nothing_early() -> None:
    assert escape(b"\x30\x7e\x08\x7d\x55") == b"\x30\x7d\x02\x08\x7d\x01\x55"
    assert unescape(escape(bytes(range(256)))) == bytes(range(256))
    # Traccar's seq 7 carries 7D 02 on the wire: the OBD item 0x87 value is 0x007E
    (line,) = [x for x in LINES if x["seq"] == 7]
    (record,) = CODEC.decode(_frame(line)).records
    assert record.attributes["intakeFlow"] == 0x7E and record.attributes["vin"]
    fix = Fix(WHEN, 22.5, 114.0, odometer_km=0x7E7D / 10)
    frame = build_location(PHONE, fix, 0x7E7D)
    assert frame.count(0x7E) == 2 and b"\x7d\x02" in frame
    (built,) = CODEC.decode(frame).records
    assert built.attributes["serial"] == 0x7E7D and built.odometer_km == pytest.approx(3238.1)


def test_framer_cuts_a_stream_fed_byte_by_byte_and_skips_noise() -> None:
    packets = [
        build_register(PHONE, 1),
        build_auth(PHONE, PHONE, 2),
        build_location(PHONE, Fix(WHEN, 1.5, 2.5), 3),
        build_heartbeat(PHONE, 4),
    ] + [_frame(x) for x in LINES if x["encoding"] == "hex" and 0x7E not in _frame(x)[1:-1]]
    stream = b"garbage" + b"".join(packets)
    framer = CODEC.framer(max_frame=8192)
    frames = [f for i in range(len(stream)) for f in framer.feed(stream[i : i + 1])]
    assert frames == packets
    assert CODEC.framer().feed(b"\x7e\x7e" + packets[3]) == [packets[3]]  # shared flag


def test_framer_refuses_oversized_frames_and_text_without_close() -> None:
    with pytest.raises(FrameError, match="without its closing 7E"):
        CODEC.framer(max_frame=64).feed(b"\x7e" + bytes(100))
    with pytest.raises(FrameError, match="over the 32 limit"):
        CODEC.framer(max_frame=32).feed(b"\x7e" + bytes(40) + b"\x7e")
    with pytest.raises(FrameError, match="without '\\)'"):
        CODEC.framer(max_frame=16).feed(b"(" + b"1" * 40)


def test_lying_length_field_is_marked_not_trusted() -> None:
    frame = bytearray(unescape(build_heartbeat(PHONE, 9)[1:-1]))
    frame[3] = 0x40  # declares 64 body bytes, has none
    frame[-1] = xor(bytes(frame[:-1]))
    (record,) = CODEC.decode(b"\x7e" + escape(bytes(frame)) + b"\x7e").records
    assert record.kind is RecordKind.STATUS and record.attributes["lengthMismatch"] == 0x40


def test_short_and_malformed_messages_are_frame_errors() -> None:
    with pytest.raises(FrameError, match="no 7E flags"):
        CODEC.decode(b"\x7e\x00\x02\x7e")
    location = build_message(0x0200, bytes(10), PHONE, 1)
    with pytest.raises(FrameError, match="under the basic 28"):
        CODEC.decode(location)
    bad_time = bytearray(unescape(build_location(PHONE, Fix(WHEN, 1, 2), 1)[1:-1]))
    bad_time[12 + 22] = 0xAA
    bad_time[-1] = xor(bytes(bad_time[:-1]))
    with pytest.raises(FrameError, match="not BCD"):
        CODEC.decode(b"\x7e" + escape(bytes(bad_time)) + b"\x7e")
    with pytest.raises(FrameError, match="terminal response of 2 bytes"):
        CODEC.decode(build_message(0x0001, b"\x00\x01", PHONE, 1))


def test_subpackage_header_is_read_and_the_package_acknowledged() -> None:
    frame = build_message(0x0801, b"\x01\x02\x03", PHONE, 77, package=(5, 2))
    result = CODEC.decode(frame)
    (record,) = result.records
    assert record.kind is RecordKind.OTHER and record.attributes["package"] == "2/5"
    assert record.attributes["content"] == "010203" and "lengthMismatch" not in record.attributes
    assert result.ack == build_message(MSG_GENERAL_RESPONSE, b"\x00\x4d\x08\x01\x00", PHONE, 0)


def test_registration_answers_with_auth_code_then_auth_is_acknowledged() -> None:
    result = CODEC.decode(build_register(PHONE, 5))
    (record,) = result.records
    assert (record.kind, record.device_id) == (RecordKind.LOGIN, PHONE)
    assert record.attributes["model"] == "FLEET-SIM"
    body = b"\x00\x05\x00" + PHONE.encode()
    assert result.ack == build_message(MSG_REGISTER_RESPONSE, body, PHONE, 0)
    auth = CODEC.decode(build_auth(PHONE, PHONE, 6))
    assert auth.records[0].attributes["authCode"] == PHONE
    assert auth.ack == build_message(MSG_GENERAL_RESPONSE, b"\x00\x06\x01\x02\x00", PHONE, 0)


def test_2019_header_with_an_imei_keeps_the_imei_as_id() -> None:
    imei = "860000000000018"  # not Luhn-valid, so no binary-IMEI 2013 form
    version, phone = terminal_address(imei)
    assert version and phone == bytes.fromhex("00000860000000000018")
    assert terminal_address("860000000000017")[0] is False  # Luhn-valid: binary, as Traccar
    result = CODEC.decode(build_heartbeat(imei, 3))
    assert result.records[0].device_id == imei
    reply = unescape(result.ack[1:-1])
    assert reply[2] & 0x40 and reply[5:15] == phone  # answered in the 2019 form
    assert CODEC.decode(build_heartbeat(PHONE.zfill(20), 1)).records[0].device_id == PHONE


@pytest.mark.parametrize(
    ("blocked", "state"), [(True, LockState.LOCKED), (False, LockState.UNLOCKED)]
)
def test_location_builder_round_trips(blocked: bool, state: LockState) -> None:
    fix = Fix(
        WHEN,
        -33.86785,
        -70.71963,
        57.3,
        359,
        512,
        blocked=blocked,
        charging=True,
        odometer_km=321.5,
        battery_pct=77,
        satellites=9,
        alarm_flags=0x1,
    )
    (record,) = CODEC.decode(build_location(PHONE, fix, 4)).records
    assert record.fix_time == WHEN and record.valid_fix
    assert (record.latitude, record.longitude) == pytest.approx((-33.86785, -70.71963))
    assert (record.speed_kmh, record.course_deg, record.altitude_m) == pytest.approx(
        (57.3, 359, 512)
    )
    assert (record.odometer_km, record.battery_pct, record.satellites) == (321.5, 77.0, 9)
    assert record.lock_state is state and record.charging is True and record.alarms == ("sos",)


def test_batch_builder_gives_one_record_per_fix() -> None:
    fixes = [Fix(WHEN, 1.0 + i, 2.0) for i in range(3)]
    records = CODEC.decode(build_batch(PHONE, fixes, 8, blind=True)).records
    assert [r.latitude for r in records] == pytest.approx([1.0, 2.0, 3.0])
    assert all(r.attributes["archive"] for r in records)


@pytest.mark.parametrize(
    ("action", "msg_id", "body"),
    [("lock", 0x8105, b"\xf0"), ("unlock", 0x8105, b"\xf1"), ("locate", 0x8201, b"")],
)
def test_commands_round_trip_through_the_terminal_response(
    action: str, msg_id: int, body: bytes
) -> None:
    command = CODEC.encode_command(PHONE, action, sequence=0x1234)
    header = Header(unescape(command[1:-1]))
    assert (header.msg_id, header.serial, header.device_id) == (msg_id, 0x1234, PHONE)
    assert unescape(command[1:-1])[header.body_at : -1] == body
    answer = build_terminal_response(PHONE, 0x1234, msg_id, 9)
    result = CODEC.decode(answer)
    (record,) = result.records
    assert record.kind is RecordKind.COMMAND_RESULT and result.ack == b""
    assert record.attributes["success"] is True and f"{msg_id:04x}" in (record.command_result or "")
    refused = CODEC.decode(build_terminal_response(PHONE, 0x1234, msg_id, 9, result=1))
    assert refused.records[0].attributes["success"] is False


def test_command_encoder_refuses_unknown_actions_and_ids() -> None:
    with pytest.raises(ValueError, match="supported: locate, lock, unlock"):
        CODEC.encode_command(PHONE, "alarm")
    with pytest.raises(ValueError, match="up to 20 digits"):
        CODEC.encode_command("not-a-phone", "lock")


def test_text_sentences_time_request_and_result() -> None:
    codec = Jt808Codec(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    result = codec.decode(b"(794104004140,1,001,BASE,2,TIME)", device_id=PHONE)
    assert result.ack == b"(794104004140,1,001,BASE,2,20260102030405)"
    (line,) = [x for x in LINES if x["seq"] == 16]
    (record,) = codec.decode(_frame(line), device_id=PHONE).records
    assert record.command_result == line["expect"]["result"]


def test_a_time_request_with_a_byte_that_is_not_ascii_is_answered_not_crashed() -> None:
    """Found by the gateway fuzz test: the answer re-encoded the decoded text as ASCII."""
    codec = Jt808Codec(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    result = codec.decode(b"(794104004140,1,001,BASE,2,\xfeTIME)", device_id=PHONE)
    assert result.ack == b"(794104004140,1,001,BASE,2,\xfe20260102030405)"
