"""GT06 codec against the Traccar corpus, its own device-side builders and edge cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.crc16 import crc_itu
from app.integrations.iot.codecs.gt06 import CODEC, Gt06Codec, build_packet, encode_text_command
from app.integrations.iot.codecs.gt06_build import (
    build_alarm,
    build_command_reply,
    build_heartbeat,
    build_location,
    build_login,
)
from app.integrations.iot.codecs.gt06_messages import UNMATCHED
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.unit.integrations.iot.binary_corpus import (
    agreement,
    decoder_lines,
    expect_mismatches,
    fidelity_id,
    load,
    replay_session,
)

LINES = decoder_lines("gt06")
IMEI = "864717003283581"
WHEN = datetime(2026, 5, 4, 10, 11, 12, tzinfo=UTC)
# Expectations we knowingly do not reproduce, by fidelity_id (frames added from Traccar's
# older stored test carry its commit prefix); the codec names each in UNMATCHED.
GAPS = {
    "testDecode-3": UNMATCHED["0xF1"],
    "testDecode-10": UNMATCHED["0xA3 steps"],
    "testDecode-21": UNMATCHED["0x32 SL4X altitude"],
}


def test_registry_returns_this_codec() -> None:
    assert get_codec("gt06") is CODEC
    assert CODEC.name == "gt06"


@pytest.mark.parametrize("line", LINES, ids=fidelity_id)
def test_corpus_frame_decodes_as_traccar_expects(line: dict) -> None:
    """Every frame with a valid CRC agrees with Traccar's asserts; a bad-CRC or glued test
    frame is decoded leniently or refused with FrameError, never anything else."""
    try:
        result = replay_session(CODEC, LINES, line)
    except FrameError:
        assert line.get("crc_ok") is False, "only frames failing their CRC may be refused"
        return
    records = result.records
    assert records, "every corpus frame gives at least one record"
    assert records[0].raw == bytes.fromhex(line["frame"])
    assert records[0].checksum_ok is (line.get("crc_ok") is not False)
    if line.get("crc_ok") is not False and fidelity_id(line) not in GAPS:
        assert expect_mismatches(records, line) == []


def test_agreement_with_traccar_is_all_but_the_gaps() -> None:
    agreeing, valid, failures = agreement(CODEC, LINES)
    assert set(failures) == set(GAPS)
    assert agreeing == valid - len(GAPS)


def test_known_gaps_are_corpus_lines_with_expectations() -> None:
    expected = {fidelity_id(x): x["expect"] for x in LINES}
    assert all(expected.get(gap) for gap in GAPS)


def test_rfid_serial_does_not_collide_with_the_packet_serial() -> None:
    (line,) = [x for x in LINES if x["expect"].get("serial")]
    (record,) = replay_session(CODEC, LINES, line).records
    assert record.attributes["serial"] == "RFID:008FB2BEBA39"
    assert record.attributes["index"] == int(line["frame"][-12:-8], 16)


def test_ibutton_position_carries_the_decimal_driver_id() -> None:
    """0x61: IMEI, GPS, a cell with a 4-byte id, then the 6-byte iButton id (Traccar 2026)."""
    (line,) = [x for x in LINES if x["frame"][6:8] == "61"]
    (record,) = replay_session(CODEC, LINES, line).records
    assert record.kind is RecordKind.POSITION and record.valid_fix
    assert (record.latitude, record.longitude) == pytest.approx((-25.082746, -50.168727))
    assert record.fix_time == datetime(2025, 10, 30, 13, 56, 6, tzinfo=UTC)
    assert record.attributes["driverUniqueId"] == str(0x0139_5581)


def test_modular_ble_tag_module_is_read_under_traccar_names() -> None:
    (line,) = [x for x in LINES if "007f000e" in x["frame"]]
    (record,) = replay_session(CODEC, LINES, line).records
    assert {k: v for k, v in record.attributes.items() if k.startswith("tag1")} == {
        "tag1Id": "c4a82841074a",
        "tag1Battery": 32.767,
        "tag1BatteryLevel": 100,
        "tag1Temp": 29.0,
        "tag1Humidity": 476,
        "tag1Status": 7,
    }


def test_every_unmatched_reason_is_a_gap() -> None:
    assert set(GAPS.values()) == set(UNMATCHED.values())


def test_door_is_read_after_the_device_time() -> None:
    (record,) = CODEC.decode(bytes.fromhex("7979000d940516090908081c030defbd2d0d0a")).records
    assert record.attributes["door"] is True and record.attributes["io1"] is False


def test_current_position_text_is_a_fix() -> None:
    (line,) = [x for x in LINES if "43757272656e7420706f736974696f6e" in x["frame"]]
    (record,) = replay_session(CODEC, LINES, line).records
    assert record.kind is RecordKind.POSITION and record.valid_fix
    assert (record.latitude, record.longitude) == pytest.approx((54.739332, 25.27327))
    assert record.fix_time == datetime(2017, 5, 26, 10, 27, 47, tzinfo=UTC)
    assert record.course_deg == pytest.approx(126.53)


def test_wifi_scan_without_fix_is_a_status_with_its_time() -> None:
    frame = bytes.fromhex("787800691710231108500200cc080c4e2fa5640c4e2fa66e0d0a")
    (record,) = CODEC.decode(frame).records
    assert record.kind is RecordKind.STATUS and record.latitude is None
    assert record.fix_time == datetime(2017, 10, 23, 11, 8, 50, tzinfo=UTC)
    assert [c["lac"] for c in record.attributes["cells"]] == [0x0C4E, 0x0C4E]


def test_lbs_only_0xa2_gives_no_position() -> None:
    (line,) = [x for x in LINES if x["frame"].startswith("78787aa2")]
    (record,) = replay_session(CODEC, LINES, line).records
    assert record.kind is RecordKind.STATUS and record.latitude is None
    assert record.attributes["cells"]


@pytest.mark.parametrize("line", [x for x in LINES if x.get("crc_ok") is False], ids=fidelity_id)
def test_bad_crc_is_refused_strictly(line: dict) -> None:
    with pytest.raises(FrameError, match=r"CRC-ITU mismatch|not a GT06 frame"):
        CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI)


def test_login_gives_imei_and_serial_echo() -> None:
    frame = bytes.fromhex("78780D01086471700328358100093F040D0A")
    assert crc_itu(frame[2:-4]) == 0x3F04
    result = CODEC.decode(frame)
    (record,) = result.records
    assert (record.kind, record.device_id) == (RecordKind.LOGIN, IMEI)
    assert result.ack == build_packet(0x01, b"", 0x0009)
    assert result.ack[:6] == bytes.fromhex("787805010009")


def test_traccar_worked_example_fix() -> None:
    """The GPS block of the 0x12 worked example in reference section 1.6, behind our own LBS."""
    gps = bytes.fromhex("10020e14061dcc0476fcd0003e3faf3e14b2")
    frame = build_packet(0x12, gps + bytes(8), 0x044E)
    (record,) = CODEC.decode(frame, device_id=IMEI).records
    assert record.fix_time == datetime(2016, 2, 14, 20, 6, 29, tzinfo=UTC)
    assert (record.latitude, record.longitude) == pytest.approx((41.61491, 2.26641), abs=1e-5)
    assert (record.speed_kmh, record.course_deg, record.valid_fix) == (62, 178, True)
    assert record.satellites == 12


def test_framing_corpus_first_frame() -> None:
    for case in load("gt06", "framing"):
        frames = CODEC.framer().feed(bytes.fromhex(case["input"]))
        assert frames[0] == bytes.fromhex(case["expect"]["first_frame"])


def test_framer_splits_a_session_fed_byte_by_byte() -> None:
    packets = [
        build_login(IMEI, 1),
        build_location(WHEN, 54.68, 25.28, 40, 90, serial=2),
        build_heartbeat(3),
    ] + [bytes.fromhex(x["frame"]) for x in LINES if x.get("crc_ok") and x["frame"][4:6] != "00"]
    stream = b"".join(packets)
    framer = CODEC.framer()
    frames = [f for i in range(len(stream)) for f in framer.feed(stream[i : i + 1])]
    assert frames == packets


def test_framer_skips_garbage_and_a_false_start() -> None:
    packet = build_heartbeat(7)
    noise = b"\x01\x02\x78\x78\x40\x13garbage"
    assert CODEC.framer().feed(noise + packet) == [packet]


def test_framer_refuses_oversized_frames() -> None:
    framer = CODEC.framer(max_frame=128)
    with pytest.raises(FrameError, match="over the 128 limit"):
        framer.feed(b"\x79\x79\x10\x00\x94")
    with pytest.raises(FrameError, match="no GT06 stop bytes"):
        CODEC.framer(max_frame=64).feed(b"\x78\x78\x01" + bytes(80))


def test_decoder_refuses_wrong_shapes() -> None:
    with pytest.raises(FrameError, match="no 0D0A"):
        CODEC.decode(b"\x78\x78\x05\x13\x00\x01\x00\x00")
    with pytest.raises(FrameError, match="not 7878 or 7979"):
        CODEC.decode(b"\x77\x77\x05\x13\x00\x01\x00\x00\r\n")
    bad_length = bytearray(build_heartbeat(1))
    bad_length[2] += 1
    with pytest.raises(FrameError, match="CRC-ITU mismatch"):
        CODEC.decode(bytes(bad_length))
    (record,) = CODEC.decode(bytes(bad_length), strict=False).records
    assert record.checksum_ok is False and record.attributes["lengthMismatch"] is True


def test_wrong_length_field_is_a_quirk_not_an_error() -> None:
    """The framer tolerates lying length fields (as Traccar does); the CRC decides."""
    frame = bytearray(build_heartbeat(1))
    frame[2] = 0x03
    frame[-4:-2] = crc_itu(bytes(frame[2:-4])).to_bytes(2, "big")
    (record,) = CODEC.decode(bytes(frame), device_id=IMEI).records
    assert record.attributes["lengthMismatch"] is True and record.checksum_ok
    case = next(c for c in load("gt06", "framing") if c["input"].startswith("787803"))
    (record,) = CODEC.decode(bytes.fromhex(case["input"])).records  # 0x69: no CRC to check
    assert record.kind is RecordKind.STATUS and len(record.attributes["wifi"]) == 3


def test_location_builder_round_trips() -> None:
    frame = build_location(WHEN, -33.86785, -70.71963, 57, 359, serial=0x1234, odometer_km=321.5)
    result = CODEC.decode(frame, device_id=IMEI)
    (record,) = result.records
    assert record.kind is RecordKind.POSITION and record.device_id == IMEI
    assert record.fix_time == WHEN and record.valid_fix
    assert (record.latitude, record.longitude) == pytest.approx((-33.86785, -70.71963), abs=1e-6)
    assert (record.speed_kmh, record.course_deg, record.odometer_km) == (57, 359, 321.5)
    assert result.ack == build_packet(0x12, b"", 0x1234)


@pytest.mark.parametrize(
    ("blocked", "state"), [(True, LockState.LOCKED), (False, LockState.UNLOCKED)]
)
def test_heartbeat_builder_round_trips(blocked: bool, state: LockState) -> None:
    result = CODEC.decode(
        build_heartbeat(5, voltage_level=3, blocked=blocked, ignition=True), device_id=IMEI
    )
    (record,) = result.records
    assert record.kind is RecordKind.STATUS
    assert (record.battery_pct, record.lock_state) == (50.0, state)
    assert record.attributes["ignition"] is True
    assert result.ack == build_packet(0x13, b"", 5)


def test_alarm_builder_round_trips() -> None:
    (record,) = CODEC.decode(build_alarm(WHEN, 1.5, 2.5, 0x01, serial=9), device_id=IMEI).records
    assert record.kind is RecordKind.POSITION and record.alarms == ("sos",)
    assert (record.latitude, record.longitude, record.battery_pct) == pytest.approx((1.5, 2.5, 100))


def test_command_reply_round_trips_without_ack() -> None:
    result = CODEC.decode(build_command_reply("Relay,1 OK", 11), device_id=IMEI)
    (record,) = result.records
    assert (record.kind, record.command_result) == (RecordKind.COMMAND_RESULT, "Relay,1 OK")


def test_command_encoder_matches_traccar_vector() -> None:
    (line,) = [x for x in load("gt06") if x["kind"] == "command-response"]
    assert line["expect"]["command"]["type"] == "engineStop"
    assert CODEC.encode_command(IMEI, "lock") == bytes.fromhex(line["frame"])
    assert b"Relay,0#" in CODEC.encode_command(IMEI, "unlock", sequence=3)
    assert CODEC.encode_command(IMEI, "unlock", sequence=3)[-6:-4] == b"\x00\x03"


def test_command_encoder_refuses_unknown_actions_and_text() -> None:
    with pytest.raises(ValueError, match="supported: locate, lock, unlock"):
        CODEC.encode_command(IMEI, "alarm")
    with pytest.raises(ValueError, match="ASCII"):
        encode_text_command("Relais,1 ü#")


def test_time_request_is_answered_with_the_clock() -> None:
    codec = Gt06Codec(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    result = codec.decode(build_packet(0x8A, b"", 4), device_id=IMEI)
    assert result.ack == build_packet(0x8A, bytes([26, 1, 2, 3, 4, 5]), 0)


def test_builders_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="15 digits"):
        build_login("1234", 1)
    with pytest.raises(ValueError, match=r"0\.\.6"):
        build_heartbeat(1, voltage_level=9)


def test_terminal_info_charge_bit_is_the_readings_charging() -> None:
    """Traccar's corpus status frame 78780a1306…: terminal info 0x06 (ACC on, charge on)."""
    frame = bytes.fromhex("78780a130604ea04000006bc8a0d0a")
    (record,) = CODEC.decode(frame, device_id=IMEI).records
    assert record.charging is True and record.attributes["charge"] is True
    for charging in (True, False):
        built = build_heartbeat(9, voltage_level=4, blocked=True, charging=charging)
        (status,) = CODEC.decode(built, device_id=IMEI).records
        assert status.charging is charging
    (login,) = CODEC.decode(build_login(IMEI, 1)).records
    assert login.charging is None  # a frame that says nothing about it
