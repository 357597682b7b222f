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
# One corpus report ends "...,202306161834$": a send time without seconds and no count,
# which Traccar accepts and strict mode therefore accepts too.
SHORT_TAIL = [f for f in TEXT if f.data.endswith(b",202306161834$")]

# Traccar attribute -> how our records carry it; any other key is read from attributes.
FIELDS = {
    "batteryLevel": lambda r: r.battery_pct,
    "alarm": lambda r: r.alarms,
}
JAVA_KEYS = {"Position.PREFIX_IN + 1": "in1", "Position.PREFIX_TEMP + 1": "temp1"}
# Corpus frames we deliberately decode differently from Traccar's test, and why.
GAPS: dict[str, str] = {}


def gap(frame) -> str | None:
    return next(
        (why for key, why in GAPS.items() if frame.data.hex().upper().startswith(key)), None
    )


def traccar_key(key: str) -> str:
    return JAVA_KEYS[json.loads(key)["java_expr"]] if key.startswith("{") else key


def reading(record, key: str):
    return FIELDS[key](record) if key in FIELDS else record.attributes.get(key)


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
    if frame.kind == "none":  # Traccar returns null: no position, or a clean refusal
        try:
            records = CODEC.decode(frame.data, strict=False).records
        except FrameError:
            return
        assert not any(r.kind is RecordKind.POSITION for r in records)
        return
    records = CODEC.decode(frame.data, strict=False).records
    fields = frame.data.split(b",")
    device_id = fields[1] if fields[0].endswith(b"GTTRI") else fields[2]
    assert records and all(r.device_id == device_id.decode() for r in records)
    assert_meets_expectations(frame, records)


def assert_meets_expectations(frame, records) -> None:
    """The checks every corpus frame gets, text or binary: fixes plausible, values as asserted."""
    if frame.kind == "position":
        for record in records:
            assert_plausible_fix(record)
    else:  # Traccar's verifyAttributes: a non-empty attribute map
        assert any(r.attributes for r in records)
    for key, expected in frame.expect.items():
        name = traccar_key(key)
        values = [reading(r, name) for r in records]
        if name == "alarm":
            assert any(expected in v for v in values), values
        elif expected is None:
            assert all(v is None for v in values), values
        elif isinstance(expected, float | int) and not isinstance(expected, bool):
            assert values[-1] == pytest.approx(expected, abs=1e-3), values
        else:
            assert values[-1] == expected, values


def test_every_gap_names_a_corpus_frame() -> None:
    assert all(any(gap(f) for f in FRAMES) for _ in GAPS)
    assert sum(1 for f in FRAMES if gap(f)) == len(GAPS)


def test_type_specific_fields_follow_traccar() -> None:
    """GTINF, GTGSM and GTLBS carry no location; their status is no longer empty."""
    (gsm, *_) = [f for f in TEXT if b"GTGSM" in f.data]
    (record,) = CODEC.decode(gsm.data).records
    towers = record.attributes["cellTowers"]
    assert len(towers) == 5 and towers[0] == {
        "mobileCountryCode": 234,
        "mobileNetworkCode": 15,
        "locationAreaCode": 0x3A,
        "cellId": 0x62A2,
        "signalStrength": 16,
    }
    (lbs,) = [f for f in TEXT if b"GTLBS" in f.data]
    (record,) = CODEC.decode(lbs.data).records
    assert record.battery_pct == 92 and len(record.attributes["cellTowers"]) == 4
    (inf,) = [f for f in TEXT if f.data.startswith(b"+RESP:GTINF,C20113")]
    (record,) = CODEC.decode(inf.data).records
    attrs = record.attributes
    assert (attrs["power"], attrs["power2"], attrs["battery"]) == (12.295, 13.985, 4.25)


def test_multi_fix_report_gives_one_record_per_location() -> None:
    (frame,) = [f for f in TEXT if f.data.startswith(b"+RESP:GTFRI,1A0900")]
    records = CODEC.decode(frame.data).records
    assert len(records) == 4
    assert [r.speed_kmh for r in records] == [2.1, 5.7, 4.4, 4.8]
    assert records[-1].battery_pct is None and records[0].odometer_km == pytest.approx(25.2)


@pytest.mark.parametrize("frame", [f for f in TEXT if f.kind != "none"], ids=lambda f: f.test_id)
def test_strict_accepts_every_corpus_report(frame) -> None:
    assert all(r.checksum_ok for r in CODEC.decode(frame.data).records)


def test_short_send_time_tail_is_accepted_and_a_broken_tail_is_not() -> None:
    (frame,) = SHORT_TAIL
    (record,) = CODEC.decode(frame.data).records
    assert record.checksum_ok is True and record.valid_fix is True
    broken = frame.data.replace(b",202306161834$", b",2023061618$")
    with pytest.raises(FrameError, match="tail"):
        CODEC.decode(broken)
    assert CODEC.decode(broken, strict=False).records[0].checksum_ok is False


def test_nul_padding_before_and_after_a_report_is_ignored() -> None:
    frame = TEXT[0].data
    (padded,) = CODEC.decode(b"\x00\x00" + frame + b"\x00").records
    (plain,) = CODEC.decode(frame).records
    assert (padded.device_id, padded.fix_time, padded.latitude) == (
        plain.device_id,
        plain.fix_time,
        plain.latitude,
    )
    assert CODEC.framer().feed(b"\x00\x00\x00" + frame) == [frame]


def test_gttri_carries_its_imei_in_the_version_slot() -> None:
    (frame,) = [f for f in TEXT if b"GTTRI" in f.data]
    (record,) = CODEC.decode(frame.data).records
    assert record.device_id == "862370030005908" and record.valid_fix


@pytest.mark.parametrize("case", load_framing("gl200"), ids=lambda c: c["frame"][:12])
def test_framing_corpus(case) -> None:
    stream = bytes.fromhex(case["input"])
    expected = bytes.fromhex(case["expect"]["first_frame"])
    if stream.endswith(b"$") and not expected.endswith(b"$"):
        expected += b"$"  # Traccar's framer drops the '$'; ours keeps it (see Gl200Framer)
    assert CODEC.framer().feed(stream)[0] == expected
    framer = CODEC.framer()
    assert next(f for b in stream for f in framer.feed(bytes([b]))) == expected


def test_framing_corpus_present() -> None:
    assert len(load_framing("gl200")) == 4


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


@pytest.mark.timeout(10)
def test_a_mangled_eri_sensor_count_does_not_spin_the_decoder() -> None:
    """A fuzzed GTERI (a NUL for one field, a broken send time) put 202,408,171 in the
    fuel-sensor count with mask bit 4 only, so nothing is read per sensor: the walk
    looped that many times (minutes); the frame now decodes at once, position intact."""
    report = b"+BUFF:GTERI,358803,862364030181926,gv200,00000011,,51,1,\x00,21.0,98,30.2,"
    report += b"38.249517,24.008269,20240817131401,0420,0004,75A0,412C,00,84795.4,,,,,01,00,0,,"
    report += b"202408171,1358,F127$"
    [record] = CODEC.decode(report, strict=False).records
    assert (record.kind, record.latitude, record.longitude) == ("position", 24.008269, 38.249517)


def test_a_cut_gtgsm_report_keeps_its_report_without_the_cells() -> None:
    """Found by the codec fuzz test: a GTGSM with fewer than six cell slots raised
    TypeError from the cell reader instead of keeping the readings found by shape."""
    (gsm, *_) = [f for f in TEXT if b"GTGSM" in f.data]
    fields = gsm.data.split(b",")
    cut = b",".join([*fields[:12], *fields[-2:]])
    (record,) = CODEC.decode(cut).records
    assert "cellTowers" not in record.attributes
