"""Queclink @Track (Traccar gl200) codec against the captured frames, ACKs, commands, framing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.gl200 import (
    Gl200Codec,
    build_command_ack,
    build_heartbeat,
    build_position_frame,
    parse_command,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.helpers.iot_corpus import device_frames, load_framing

CODEC = get_codec("gl200")
IMEI = "868487004353181"
FRAMES = device_frames("gl200")
TEXT = [f for f in FRAMES if f.extra["encoding"] == "text"]
BINARY = [f for f in FRAMES if f.extra["encoding"] == "hex"]
# One corpus report ends "...,202306161834$": no seconds and no count, so strict mode
# (which checks the tail the reference describes) refuses it.
BAD_TAIL = [f for f in TEXT if f.data.endswith(b",202306161834$")]

# Traccar attribute -> how our records carry it (last record, as Traccar sets it there).
MAPPED = {
    "batteryLevel": lambda r: r.battery_pct,
    "alarm": lambda r: ",".join(r.alarms),
    "ignition": lambda r: r.attributes.get("ignition"),
    "data": lambda r: r.attributes.get("data"),
    "in1": lambda r: r.attributes.get("in1"),
}
# Model-specific readings (fuel sensors, CAN, accessories) that no DeviceRecord field holds.
NOT_MAPPED = {"fuel", "adBlueLevel", "power2", "accessoryVoltage", "warningType", "temp1"}
JAVA_KEYS = {"Position.PREFIX_IN + 1": "in1", "Position.PREFIX_TEMP + 1": "temp1"}


def traccar_key(key: str) -> str:
    return JAVA_KEYS[json.loads(key)["java_expr"]] if key.startswith("{") else key


def assert_plausible_fix(record) -> None:
    assert record.kind is RecordKind.POSITION
    assert record.valid_fix is True
    assert -90 <= record.latitude <= 90 and -180 <= record.longitude <= 180
    assert (
        datetime(1999, 1, 1, tzinfo=UTC) < record.fix_time < datetime.now(UTC) + timedelta(hours=25)
    )
    assert record.speed_kmh is None or 0 <= record.speed_kmh <= 869 * 1.852
    assert record.course_deg is None or 0 <= record.course_deg <= 360
    assert record.battery_pct is None or 0 <= record.battery_pct <= 100


@pytest.mark.parametrize("frame", TEXT, ids=lambda f: f.test_id)
def test_corpus_frame_decodes_as_traccar_expects(frame) -> None:
    records = CODEC.decode(frame.data, strict=False).records
    assert records and all(r.device_id == frame.data.split(b",")[2].decode() for r in records)
    assert_meets_expectations(frame, records)


def assert_meets_expectations(frame, records) -> None:
    """The checks every corpus frame gets, text or binary: fixes plausible, values as asserted."""
    if frame.kind == "position":
        for record in records:
            assert_plausible_fix(record)
    for key, expected in frame.expect.items():
        name = traccar_key(key)
        if name in NOT_MAPPED:
            continue
        actual = MAPPED[name](records[-1])
        assert actual == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_corpus_expectation_keys_are_all_classified() -> None:
    keys = {traccar_key(k) for f in FRAMES for k in f.expect}
    assert keys == set(MAPPED) | NOT_MAPPED


def test_multi_fix_report_gives_one_record_per_location() -> None:
    (frame,) = [f for f in TEXT if f.data.startswith(b"+RESP:GTFRI,1A0900")]
    records = CODEC.decode(frame.data).records
    assert len(records) == 4
    assert [r.speed_kmh for r in records] == [2.1, 5.7, 4.4, 4.8]
    assert records[-1].battery_pct is None and records[0].odometer_km == pytest.approx(25.2)


@pytest.mark.parametrize("frame", [f for f in TEXT if f not in BAD_TAIL], ids=lambda f: f.test_id)
def test_strict_accepts_reports_with_a_proper_tail(frame) -> None:
    assert all(r.checksum_ok for r in CODEC.decode(frame.data).records)


def test_strict_rejects_a_truncated_tail_that_lenient_decodes() -> None:
    (frame,) = BAD_TAIL
    with pytest.raises(FrameError, match="tail"):
        CODEC.decode(frame.data)
    records = CODEC.decode(frame.data, strict=False).records
    assert records[0].checksum_ok is False and records[0].valid_fix is True


@pytest.mark.parametrize("case", load_framing("gl200"), ids=lambda c: c["frame"][:12])
def test_framing_corpus(case) -> None:
    stream = bytes.fromhex(case["input"])
    expected = bytes.fromhex(case["expect"]["first_frame"])
    assert CODEC.framer().feed(stream)[0] == expected
    framer = CODEC.framer()
    assert next(f for b in stream for f in framer.feed(bytes([b]))) == expected


def test_framing_corpus_present() -> None:
    assert len(load_framing("gl200")) == 2


def test_text_framer_keeps_dollar_handles_nul_and_resyncs() -> None:
    a, b = TEXT[0].data, TEXT[1].data
    stream = b"junk" + b"+RESP:GTFRI,cut short" + a + b"\r\n" + b[:-1] + b"\x00" + a[:10]
    framer = CODEC.framer()
    assert framer.feed(stream) == [a, b[:-1]]
    assert framer.feed(a[10:]) == [a]


def test_text_framer_raises_on_unterminated_report() -> None:
    with pytest.raises(FrameError):
        CODEC.framer(max_frame=100).feed(b"+RESP:GTFRI," + b"1," * 60)


def test_binary_framer_refuses_oversized_length() -> None:
    header = b"+RSP" + bytes([0x64, 0, 0, 0, 0]) + (5000).to_bytes(2, "big")
    with pytest.raises(FrameError):
        CODEC.framer(max_frame=4096).feed(header)


def test_heartbeat_is_answered_with_sack() -> None:
    result = CODEC.decode(b"+ACK:GTHBD,DF0200,868487004353181,cv100,20210608144354,32DB$")
    assert result.ack == b"+SACK:GTHBD,DF0200,32DB$"
    assert result.records[0].kind is RecordKind.STATUS
    assert result.records[0].fix_time == datetime(2021, 6, 8, 14, 43, 54, tzinfo=UTC)


def test_buffered_reports_are_acknowledged_live_ones_only_in_sack_mode() -> None:
    live = TEXT[0].data
    buffered = live.replace(b"+RESP:", b"+BUFF:")
    assert CODEC.decode(live).ack == b""
    assert CODEC.decode(buffered).ack == b"+SACK:32DB$"
    assert Gl200Codec(sack_all=True).decode(live).ack == b"+SACK:32DB$"


def test_command_ack_becomes_a_command_result() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    (record,) = CODEC.decode(build_command_ack(IMEI, "OUT", "002A", when, count=9)).records
    assert record.kind is RecordKind.COMMAND_RESULT
    assert (record.command_result, record.attributes["serial"]) == ("GTOUT", "002A")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("lock", "AT+GTOUT=pw,1,,,0,0,0,0,0,0,0,,,,,,,FFFF$"),
        ("unlock", "AT+GTOUT=pw,0,,,0,0,0,0,0,0,0,,,,,,,FFFF$"),
        ("locate", "AT+GTRTO=pw,1,,,,,,FFFF$"),
    ],
)
def test_encode_command_matches_reference_forms(action: str, expected: str) -> None:
    frame = Gl200Codec(password="pw").encode_command(IMEI, action, sequence=0xFFFF)
    assert frame == expected.encode()
    command, params, serial = parse_command(frame)
    assert (command, serial) == (expected[5:8], "FFFF") and params[0] in ("0", "1")


def test_sequence_is_the_serial_and_password_stays_out_of_repr() -> None:
    codec = Gl200Codec(password="s3cret")
    assert codec.encode_command(IMEI, "lock", sequence=0x1_002A).endswith(b",002A$")
    assert "s3cret" not in repr(codec)


@pytest.mark.parametrize(
    ("device_id", "action"), [(IMEI, "alarm"), (IMEI, "reboot"), ("x", "lock")]
)
def test_encode_command_rejects_bad_input(device_id: str, action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode_command(device_id, action)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"+RESP:GTFRI",
        b"+RESP:GTFRI,1,2,3,4$",
        b"+RESP:GTFRI,DF0200,not-an-imei,cv100,1,2,3$",
        b"AT+GTOUT=pw,1$",
        "+RESP:GTFRI,DF0200,868487004353181,é,20210608144354,32DB$".encode(),
    ],
)
def test_malformed_reports_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        CODEC.decode(frame, strict=False)


@pytest.mark.parametrize("locked", [True, False])
def test_round_trip_from_device_builder(locked: bool) -> None:
    when = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
    frame = build_position_frame(
        IMEI, -33.5, 151.25, 27.5, 181, 64, locked, when, count=0x12, odometer_km=1234.5
    )
    (out,) = CODEC.framer().feed(frame)
    (record,) = CODEC.decode(out).records
    assert_plausible_fix(record)
    assert (record.latitude, record.longitude, record.fix_time) == (-33.5, 151.25, when)
    assert (record.speed_kmh, record.course_deg, record.battery_pct) == (27.5, 181, 64)
    assert record.odometer_km == 1234.5
    assert record.lock_state is (LockState.LOCKED if locked else LockState.UNLOCKED)
    assert record.attributes["ignition"] is True


def test_builder_buffered_and_heartbeat_get_their_acks() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    buffered = build_position_frame(IMEI, 1, 2, 0, 0, 50, False, when, count=5, buffered=True)
    assert CODEC.decode(buffered).ack == b"+SACK:0005$"
    assert CODEC.decode(build_heartbeat(IMEI, when, count=6)).ack == b"+SACK:GTHBD,2A0100,0006$"


def test_parse_command_rejects_non_commands() -> None:
    with pytest.raises(FrameError):
        parse_command(b"+RESP:GTFRI,1$")
