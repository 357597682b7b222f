"""Teltonika codec against the Traccar corpus, its own device-side builders and edge cases."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.crc16 import crc16_ibm
from app.integrations.iot.codecs.teltonika import (
    CODEC,
    IGNORED_MESSAGES,
    RELAY_COMMANDS,
    TeltonikaCodec,
    encode_codec12,
    wrap_tcp,
)
from app.integrations.iot.codecs.teltonika_ble import beacon_attributes
from app.integrations.iot.codecs.teltonika_build import (
    AvlSample,
    build_avl_packet,
    build_command_response,
    build_gh3000_packet,
    build_imei_handshake,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.unit.integrations.iot.binary_corpus import (
    assert_matches_expect,
    assert_plausible_fix,
    decoder_lines,
    expect_mismatches,
    line_id,
    load,
    replay_until,
)

LINES = decoder_lines("teltonika")
# Corpus frames we do not decode as Traccar does, by the first bytes of the frame.
GAPS = {
    "00000000000000090c01": "camera photo transfer (codec 12 type 0x0D): Traccar requests the "
    "picture and stores it; the console deliberately does not (teltonika.IGNORED_MESSAGES)",
    "000000000000000d0c01": "camera photo transfer, as above",
}


def gap(line: dict) -> str | None:
    return next((why for key, why in GAPS.items() if line["frame"].lower().startswith(key)), None)


def replay_past_gaps(target: dict):
    """replay_until, but the session goes on past frames in GAPS and broken frames (Traccar's
    test feeds them to the same decoder; a device's next packet does not depend on them)."""
    session = [x for x in LINES if x["source"] == target["source"] and x["seq"] < target["seq"]]
    kept = [x for x in session if not gap(x) and x.get("crc_ok") is not False] + [target]
    return replay_until(CODEC, kept, target)


IMEI = "356307042441013"
WHEN = datetime(2026, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)


def test_registry_returns_this_codec() -> None:
    assert get_codec("teltonika") is CODEC
    assert CODEC.name == "teltonika"


def test_gaps_are_marked_in_the_corpus() -> None:
    """The fuzz tests skip corpus lines marked ``console_gap``; GAPS says why."""
    marked = {x["frame"][:20].lower() for x in LINES if x.get("console_gap")}
    assert marked == set(GAPS)


@pytest.mark.parametrize("line", [x for x in LINES if not gap(x)], ids=line_id)
def test_corpus_frame_decodes_as_traccar_expects(line: dict) -> None:
    result = replay_past_gaps(line)
    records = result.records
    assert records, "every corpus frame gives at least one record"
    if line["kind"] == "none":
        assert all(r.kind is not RecordKind.POSITION for r in records)
    if line["kind"] == "position":
        positions = [r for r in records if r.kind is RecordKind.POSITION]
        assert positions
        for record in positions:
            assert_plausible_fix(record)
    assert_matches_expect(records, line["expect"])
    # Every asserted key, also those with no record field, under Traccar's attribute name.
    assert not expect_mismatches(records, {**line, "kind": "attributes"})
    assert all(r.raw == bytes.fromhex(line["frame"]) for r in records)


@pytest.mark.parametrize(
    "line", [x for x in LINES if x.get("crc_ok") is False and not gap(x)], ids=line_id
)
def test_bad_crc_is_refused_strictly_and_marked_leniently(line: dict) -> None:
    frame = bytes.fromhex(line["frame"])
    with pytest.raises(FrameError, match=r"CRC-16/IBM|length field"):
        CODEC.decode(frame, device_id=IMEI)
    records = CODEC.decode(frame, device_id=IMEI, strict=False).records
    assert records and all(not r.checksum_ok for r in records)


def test_data_records_carry_the_session_imei_and_ack_their_count() -> None:
    line = next(x for x in LINES if x.get("codec") == "0x08")
    result = CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI)
    assert {r.device_id for r in result.records} == {IMEI}
    assert result.ack == len(result.records).to_bytes(4, "big")


def test_handshake_is_a_login_answered_with_01() -> None:
    result = CODEC.decode(bytes.fromhex("000F313233343536373839303132333435"))
    (record,) = result.records
    assert record.kind is RecordKind.LOGIN
    assert record.device_id == "123456789012345"
    assert result.ack == b"\x01"


def test_codec8e_values_map_to_record_fields() -> None:
    """Frame 8 of the corpus carries battery % (IO 113) and the total odometer (IO 16)."""
    line = next(x for x in LINES if x["frame"].startswith("00000000000004258e04"))
    first = CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI).records[0]
    assert first.battery_pct == 87.0
    assert first.odometer_km == pytest.approx(12168.668)
    assert first.attributes["io113"] == 87  # the raw IO value is kept beside the field
    assert first.satellites == 18 and first.valid_fix


def test_udp_datagram_identifies_itself_and_gets_udp_ack() -> None:
    line = next(x for x in LINES if x["source"].endswith("#testDecodeConnectionless"))
    result = CODEC.decode(bytes.fromhex(line["frame"]))
    assert result.records[0].device_id == "357454072713975"
    assert result.ack == bytes.fromhex("0005cafe012201")


def test_codec13_reply_is_a_command_result_with_its_time() -> None:
    line = next(x for x in LINES if x["frame"].startswith("00000000000000170D01"))
    (record,) = CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI).records
    assert record.kind is RecordKind.COMMAND_RESULT
    assert record.command_result == "getinfo"
    assert record.fix_time == datetime(2019, 7, 19, 13, 52, 52, tzinfo=UTC)


def test_codec13_gtsl_text_is_the_driver_id_not_a_command_result() -> None:
    line = next(x for x in LINES if x["expect"].get("driverUniqueId"))
    (record,) = CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI).records
    assert record.kind is RecordKind.STATUS and record.command_result is None
    assert record.attributes["driverUniqueId"] == "12749884"
    assert record.fix_time == datetime(2023, 4, 3, 20, 45, 5, tzinfo=UTC)
    short = b"GTSL|6|1"  # no fifth field: kept as the text it is
    body = b"\x0d\x01\x06" + (len(short) + 4).to_bytes(4, "big") + b"\x64\x2b\x3a\xd1" + short
    (record,) = CODEC.decode(wrap_tcp(body + b"\x01"), device_id=IMEI).records
    assert record.kind is RecordKind.COMMAND_RESULT and record.command_result == "GTSL|6|1"


def test_keepalive_byte_is_an_other_record_without_ack() -> None:
    result = CODEC.decode(b"\xff", device_id=IMEI)
    assert result.records[0].kind is RecordKind.OTHER and result.ack == b""


def test_framing_corpus_first_frame() -> None:
    for case in load("teltonika", "framing"):
        frames = CODEC.framer().feed(bytes.fromhex(case["input"]))
        assert frames[0] == bytes.fromhex(case["expect"]["first_frame"])


def test_framer_splits_a_session_fed_byte_by_byte() -> None:
    packets = [build_imei_handshake(IMEI), b"\xff"] + [
        bytes.fromhex(x["frame"])
        for x in LINES
        if x["frame"].startswith("00000000") and x.get("crc_ok") is not False and not gap(x)
    ]
    framer = CODEC.framer(max_frame=2048)
    stream = b"".join(packets)
    frames = [f for i in range(len(stream)) for f in framer.feed(stream[i : i + 1])]
    assert frames == packets


def test_framer_skips_garbage_before_a_packet() -> None:
    packet = build_avl_packet([AvlSample(WHEN, 54.7, 25.3, 30, 90)])
    assert CODEC.framer().feed(b"\x00\x07junk\x00\x00\x00\x00\x00\x00" + packet) == [packet]


def test_framer_refuses_a_declared_length_over_the_limit() -> None:
    framer = CODEC.framer(max_frame=256)
    with pytest.raises(FrameError, match="over the 256 limit"):
        framer.feed(b"\x00\x00\x00\x00\x00\x00\x10\x00\x08\x01")


def test_strict_decoder_refuses_wrong_length_and_count() -> None:
    packet = build_avl_packet([AvlSample(WHEN, 1.0, 2.0, 3, 4)])
    with pytest.raises(FrameError, match="length field"):
        CODEC.decode(packet + b"\x00")
    body = packet[8:-5] + b"\x02"
    with pytest.raises(FrameError, match="record counts disagree"):
        CODEC.decode(wrap_tcp(body))


def test_codec12_encoder_matches_traccar_vector() -> None:
    (line,) = [x for x in load("teltonika") if x["kind"] == "command-response"]
    assert encode_codec12(line["expect"]["command"]["data"]) == bytes.fromhex(line["frame"])


@pytest.mark.parametrize(
    ("action", "text"), [("lock", "sclockctrl 1"), ("unlock", "sclockctrl 0"), ("locate", "getgps")]
)
def test_scooter_commands_round_trip_as_codec12(action: str, text: str) -> None:
    packet = CODEC.encode_command(IMEI, action)
    body = packet[8:-4]
    assert body[:3] == b"\x0c\x01\x05" and text.encode() in body
    assert int.from_bytes(packet[-4:], "big") == crc16_ibm(body)


def test_relay_profile_and_unknown_actions() -> None:
    relay = TeltonikaCodec(commands=RELAY_COMMANDS)
    assert b"setdigout 1" in relay.encode_command(IMEI, "lock")
    assert b"setdigout 0" in relay.encode_command(IMEI, "unlock")
    with pytest.raises(ValueError, match="supported: locate, lock, unlock"):
        CODEC.encode_command(IMEI, "alarm")
    with pytest.raises(ValueError, match="ASCII"):
        encode_codec12("setdigout é")


def test_command_response_round_trips_to_command_result() -> None:
    result = CODEC.decode(build_command_response("DOUT1:1 Timeout:INFINITY\r\n"), device_id=IMEI)
    (record,) = result.records
    assert record.kind is RecordKind.COMMAND_RESULT
    assert record.command_result == "DOUT1:1 Timeout:INFINITY"
    assert result.ack == b""


@pytest.mark.parametrize("codec_id", [0x08, 0x8E])
def test_avl_builder_round_trips_through_the_decoder(codec_id: int) -> None:
    locked = None if codec_id == 0x08 else True
    samples = [
        AvlSample(WHEN, 54.6872, 25.2797, 18, 271, 76, locked, 1234.567),
        AvlSample(WHEN.replace(second=45), -33.9, -70.7, 0, 0, None, None, None),
    ]
    result = CODEC.decode(build_avl_packet(samples, codec_id), device_id=IMEI)
    first, second = result.records
    assert result.ack == b"\x00\x00\x00\x02"
    assert first.fix_time == WHEN and first.valid_fix
    assert (first.latitude, first.longitude) == pytest.approx((54.6872, 25.2797))
    assert (first.speed_kmh, first.course_deg, first.battery_pct) == (18, 271, 76)
    assert first.odometer_km == pytest.approx(1234.567)
    assert first.lock_state is (LockState.LOCKED if locked else LockState.UNKNOWN)
    assert second.battery_pct is None and second.lock_state is LockState.UNKNOWN
    assert (second.latitude, second.longitude) == pytest.approx((-33.9, -70.7))


def test_builders_refuse_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError, match="needs Codec 8E"):
        build_avl_packet([AvlSample(WHEN, 0, 0, 0, 0, None, False, None)], 0x08)
    with pytest.raises(ValueError, match="IMEI"):
        build_imei_handshake("12ab")
    with pytest.raises(ValueError, match=r"1\.\.255 records"):
        build_avl_packet([])


def test_scooter_charging_io_347_is_the_readings_charging() -> None:
    samples = [
        AvlSample(WHEN, 54.7, 25.3, 0, 0, 40, True, None, True),
        AvlSample(WHEN.replace(second=45), 54.7, 25.3, 0, 0, 41, True, None, False),
        AvlSample(WHEN.replace(second=50), 54.7, 25.3, 0, 0, 41, True, None, None),
    ]
    charging, idle, unsaid = CODEC.decode(build_avl_packet(samples), device_id=IMEI).records
    assert (charging.charging, idle.charging, unsaid.charging) == (True, False, None)
    assert charging.attributes["charge"] is True


def _corpus_frame(prefix: str) -> bytes:
    return bytes.fromhex(next(x["frame"] for x in LINES if x["frame"].lower().startswith(prefix)))


def test_gh3000_builder_round_trips_through_the_codec7_reader() -> None:
    samples = [
        AvlSample(WHEN.replace(microsecond=0), 54.6872, 25.2797, 18, 271, 76),
        AvlSample(WHEN.replace(second=45, microsecond=0), -33.9, -70.7, 0, 0),
    ]
    result = CODEC.decode(build_gh3000_packet(samples, satellites=6, priority=2), device_id=IMEI)
    first, second = result.records
    assert result.ack == b"\x00\x00\x00\x02"
    assert first.kind is RecordKind.POSITION and first.valid_fix
    assert first.fix_time == WHEN.replace(microsecond=0)
    assert (first.latitude, first.longitude) == pytest.approx((54.6872, 25.2797), abs=1e-5)
    assert first.speed_kmh == 18 and first.satellites == 6
    assert first.course_deg == pytest.approx(271, abs=360 / 256)
    assert first.battery_pct == 76 and first.attributes["priority"] == 2
    assert second.battery_pct is None and second.course_deg == 0


def test_gh3000_record_without_a_location_block_is_a_status_reading() -> None:
    """Corpus frame 17's first record has only its time and a 1-byte IO group."""
    first = CODEC.decode(_corpus_frame("00000000000000550704"), device_id=IMEI).records[0]
    assert first.kind is RecordKind.STATUS and first.latitude is None
    assert first.fix_time == datetime(2015, 11, 10, 21, 35, 46, tzinfo=UTC)
    assert first.attributes["motion"] is True


def test_gh3000_io_uses_traccars_gh3000_names_and_cell_data() -> None:
    last = CODEC.decode(_corpus_frame("00000000000000550704"), device_id=IMEI).records[-1]
    assert last.battery_pct == 100 and last.attributes["battery"] == pytest.approx(4.108)
    assert last.attributes["operator"] == 21803 and last.attributes["uptime"] == 5
    (first, _) = CODEC.decode(_corpus_frame("00000000000000310702"), device_id=IMEI).records
    assert (first.attributes["lac"], first.attributes["cid"]) == (100, 33791)


def test_gh3000_coordinates_off_the_globe_are_refused() -> None:
    packet = bytearray(build_gh3000_packet([AvlSample(WHEN, 10.0, 20.0, 0, 0)]))
    packet[16:20] = struct.pack(">f", 123.0)  # latitude of the only record
    with pytest.raises(FrameError, match="off the globe"):
        CODEC.decode(wrap_tcp(bytes(packet[8:-4])), device_id=IMEI)


def test_gh3000_builder_refuses_what_codec7_cannot_carry() -> None:
    with pytest.raises(ValueError, match="no lock"):
        build_gh3000_packet([AvlSample(WHEN, 0, 0, 0, 0, None, True)])
    with pytest.raises(ValueError, match="2007 to 2041"):
        build_gh3000_packet([AvlSample(WHEN.replace(year=2045), 0, 0, 0, 0)])


def test_framer_cuts_codec7_and_camera_packets() -> None:
    packets = [
        build_gh3000_packet([AvlSample(WHEN, 54.7, 25.3, 30, 90)]),
        _corpus_frame("00000000000000090c01"),
    ]
    assert CODEC.framer().feed(b"".join(packets)) == packets


def test_codec8_with_a_16_byte_io_group_is_recognised_without_a_setting() -> None:
    """Traccar's setExtended(true) frames: the standard reading runs out, the group fits.
    Only a CRC-valid frame is read again: a lenient decode does not guess at a broken one."""
    frame = _corpus_frame("00000000000003b5080b")
    result = CODEC.decode(frame, device_id=IMEI)
    assert len(result.records) == 11 and result.ack == b"\x00\x00\x00\x0b"
    assert result.records[0].attributes["io203"] == "00" * 16
    broken = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    with pytest.raises(FrameError, match="truncated"):
        CODEC.decode(broken, device_id=IMEI, strict=False)


def test_codec8_fitting_neither_layout_is_refused_with_the_standard_error() -> None:
    """One byte more in the last record: neither reading ends where the data does."""
    frame = _corpus_frame("0000000000000158080b")
    assert len(CODEC.decode(frame, device_id=IMEI).records) == 11  # the group reading fits
    body = frame[8:-5] + b"\x00" + frame[-5:-4]
    with pytest.raises(FrameError, match="truncated at byte 340"):
        CODEC.decode(wrap_tcp(body), device_id=IMEI)


def test_lying_length_is_read_by_its_declared_body_only_leniently() -> None:
    """A frame cut inside its CRC (corpus frames 19 and 22): the length field still marks
    the whole body, which Traccar reads; strict decoding refuses it."""
    frame = build_avl_packet([AvlSample(WHEN, 54.7, 25.3, 30, 90, 55)])[:-2]
    with pytest.raises(FrameError, match="length field"):
        CODEC.decode(frame, device_id=IMEI)
    (record,) = CODEC.decode(frame, device_id=IMEI, strict=False).records
    assert record.battery_pct == 55 and not record.checksum_ok


def test_lying_length_that_fits_no_body_is_refused_leniently() -> None:
    frame = build_avl_packet([AvlSample(WHEN, 54.7, 25.3, 30, 90)])[:-6]
    with pytest.raises(FrameError, match="length field says"):
        CODEC.decode(frame, device_id=IMEI, strict=False)


def test_camera_transfer_is_named_as_ignored_without_ack() -> None:
    result = CODEC.decode(_corpus_frame("00000000000000090c01"), device_id=IMEI)
    (record,) = result.records
    assert record.kind is RecordKind.OTHER and record.command_result is None
    assert record.attributes["ignored"] == IGNORED_MESSAGES[0x0D]
    assert result.ack == b""


def test_ble_beacon_list_io_385_under_traccars_names() -> None:
    eddystone = b"\x06" + bytes(range(10)) + bytes(range(6)) + b"\xc4" + b"\x01\x2c" + b"\x00\x17"
    ibeacon = b"\x10" + bytes(16) + b"\x00\x01\x00\x02" + b"\xb0"
    attributes = beacon_attributes(385, b"\x01" + eddystone + ibeacon)
    assert attributes["beacon1Namespace"] == bytes(range(10)).hex()
    assert attributes["beacon1Rssi"] == -60 and attributes["beacon1Battery"] == 3.0
    assert attributes["beacon1Temp"] == 23
    assert (attributes["beacon2Major"], attributes["beacon2Minor"]) == (1, 2)
    assert attributes["beacon2Rssi"] == -80 and "beacon2Battery" not in attributes


def test_malformed_ble_io_keeps_only_its_hex() -> None:
    assert beacon_attributes(548, bytes.fromhex("010f0001c6")) == {}
