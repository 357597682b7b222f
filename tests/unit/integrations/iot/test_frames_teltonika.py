"""Teltonika codec against the Traccar corpus, its own device-side builders and edge cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.crc16 import crc16_ibm
from app.integrations.iot.codecs.teltonika import (
    CODEC,
    RELAY_COMMANDS,
    TeltonikaCodec,
    encode_codec12,
    wrap_tcp,
)
from app.integrations.iot.codecs.teltonika_build import (
    AvlSample,
    build_avl_packet,
    build_command_response,
    build_imei_handshake,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.unit.integrations.iot.binary_corpus import (
    assert_matches_expect,
    assert_plausible_fix,
    decoder_lines,
    line_id,
    load,
    replay_until,
)

LINES = decoder_lines("teltonika")
# Corpus frames we do not decode as Traccar does yet, by the first bytes of the frame.
GAPS = {
    "00000000000000550704": "GH3000 (codec 0x07) records: their bit-masked layout is not ported",
    "00000000000000c70704": "GH3000 (codec 0x07) records: their bit-masked layout is not ported",
    "00000000000000310702": "GH3000 (codec 0x07) records: their bit-masked layout is not ported",
    "0000000000000158080b": "Traccar's setExtended(true) (2-byte IO ids in codec 8) is a "
    "per-device setting; the codec has no such option yet, so it reads 'AVL data truncated'",
    "00000000000003b5080b": "Traccar's setExtended(true), as above",
    "00000000000000768e01": "BLE tag fields (tag1Voltage) from the beacon IO (385/548) not mapped",
    "000000000000004b8e01": "BLE tag fields (tag1Battery) from the beacon IO not mapped",
    "00000000000000240d01": "codec 13 'GTSL|...' driver id text not parsed into driverUniqueId",
    "00000000000000090c01": "camera photo transfer (codec 12 type 0x0D): not framed or decoded; "
    "Traccar stores the picture and returns null",
    "000000000000000d0c01": "camera photo transfer, as above",
    "00000000000000710c01": "length field (113) disagrees with the frame; the lenient decode "
    "refuses the record counts that do not add up, where Traccar reads what it can",
    "00000000000000a70804": "length field disagrees with the frame, as above",
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
    line = next(x for x in LINES if x["expect"].get("driverUniqueId"))
    (record,) = CODEC.decode(bytes.fromhex(line["frame"]), device_id=IMEI).records
    assert record.kind is RecordKind.COMMAND_RESULT
    assert record.command_result == "GTSL|6|1|0|12749884|1|"
    assert record.fix_time == datetime(2023, 4, 3, 20, 45, 5, tzinfo=UTC)


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
