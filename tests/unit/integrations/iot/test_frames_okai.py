"""OKAI ZK dialect (codec ``okai``): each report type and its fields, ACKs, commands, bad input.

No public source carries an OKAI frame, so the corpus frames are built from the field
orders flespi publishes (each line names its source) plus two Queclink manual examples
that OKAI's firmware shares the shape of.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.gl200 import build_command_ack, parse_command
from app.integrations.iot.codecs.okai import NOT_PUBLIC, OkaiCodec
from app.integrations.iot.codecs.okai_build import build_position_frame
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.helpers.iot_corpus import device_frames

CODEC = get_codec("okai")
IMEI = "861234567890128"
FRAMES = device_frames("okai")
WHEN = datetime(2025, 3, 14, 10, 15, tzinfo=UTC)
FIELDS = ("latitude", "longitude", "speed_kmh", "battery_pct", "charging", "valid_fix")


def frame_of(report: str) -> bytes:
    return next(f.data for f in FRAMES if f.data.startswith(report.encode()))


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.test_id)
def test_corpus_frame_decodes_as_its_line_expects(frame) -> None:
    result = CODEC.decode(frame.data)
    records = result.records
    assert records and all(r.protocol == "okai" and r.raw == frame.data for r in records)
    last, expect = records[-1], frame.expect
    assert len(records) == expect.get("records", 1)
    assert (last.kind is RecordKind.POSITION) is (frame.kind == "position")
    for key, value in expect.items():
        if key in FIELDS:
            assert getattr(last, key) == pytest.approx(value), key
        elif key == "lock_state":
            assert last.lock_state.value == value
        elif key == "alarms":
            assert list(last.alarms) == value
        elif key == "ack":
            assert result.ack == value.encode()
        elif key == "command_result":
            assert last.kind is RecordKind.COMMAND_RESULT and last.command_result == value
        elif key in ("motion_samples", "acceleration"):
            assert len(last.attributes[key]) == value
        elif key != "records":
            assert last.attributes[key] == value, key


def test_fixed_report_carries_vin_qr_and_the_status_block() -> None:
    record = CODEC.decode(
        frame_of("+RESP:GTFRI,ZK8056,861234567890128,ES400,LVOKAI4Q0A1234567,QR0012345,1,")
    ).records[0]
    assert record.device_id == IMEI and record.fix_time == datetime(2025, 3, 14, 10, 15, tzinfo=UTC)
    assert (record.course_deg, record.altitude_m) == (87.0, 41.2)
    assert record.attributes == {
        "type": "FRI",
        "device_name": "ES400",
        "vin": "LVOKAI4Q0A1234567",
        "qr_code": "QR0012345",
        "rssi": 21,
        "network_type": "4G",
        "motion_state": "1",
        "backup_power": False,
        "power": 41.8,
        "battery_voltage": 3.95,
        "backup_battery_pct": 88.0,
        "alive": True,
        "ecu_lock": "0",
        "cell": "0262/0001/1A2B/00C3D4E5",
        "hdop": 0.9,
    }


def test_ecu_error_report_is_a_fault_with_its_code_type_and_raw_ecu_info() -> None:
    record = CODEC.decode(
        frame_of("+RESP:GTCFU,ZK8056,861234567890128,ES400,LVOKAI4Q0A1234567,QR0012345,0x0012")
    ).records[0]
    assert record.kind is RecordKind.POSITION and record.alarms == ("fault",)
    assert record.attributes["ecu_error_code"] == "0x0012"
    assert record.attributes["ecu_info"] == "A1B2,V3.1.7"  # width not public: kept raw
    assert record.battery_pct == 58.0  # read from the end, after the ECU info block
    assert record.charging is None  # GTCFU has no public charging field


def test_motion_and_acceleration_samples_are_kept_in_order() -> None:
    motion = CODEC.decode(frame_of("+RESP:GTMDR")).records[0]
    assert motion.kind is RecordKind.STATUS
    assert motion.fix_time == datetime(2025, 3, 14, 10, 15, 10, tzinfo=UTC)
    assert motion.attributes["motion_samples"][1] == {
        "longitude": 13.40505,
        "latitude": 52.52004,
        "speed_kmh": 15.0,
        "left_brake": 0.0,
        "right_brake": 12.0,
        "throttle": 40.0,
    }
    accel = CODEC.decode(frame_of("+RESP:GTADR")).records[0]
    assert [s["z"] for s in accel.attributes["acceleration"]] == [0.98, 1.2, 0.99]


def test_heartbeat_is_answered_like_queclink_and_buffered_reports_get_a_sack() -> None:
    beat = CODEC.decode(frame_of("+ACK:GTHBD"))
    assert beat.ack == b"+SACK:GTHBD,ZK8056,01AB$"
    assert beat.records[0].kind is RecordKind.STATUS and beat.records[0].protocol == "okai"
    assert CODEC.decode(frame_of("+BUFF:GTFRI")).ack == b"+SACK:01A6$"
    assert CODEC.decode(frame_of("+RESP:GTFRI")).ack == b""
    assert OkaiCodec(sack_all=True).decode(frame_of("+RESP:GTFRI")).ack == b"+SACK:01A3$"


def test_a_plain_queclink_fixed_report_is_read_the_queclink_way_and_marked() -> None:
    records = CODEC.decode(frame_of("+RESP:GTFRI,1A0102")).records
    assert records[0].attributes["layout"] == "queclink"
    assert records[0].latitude == pytest.approx(31.222073)


def test_simulator_frame_round_trips() -> None:
    frame = build_position_frame(
        IMEI, 52.5, 13.4, 0.0, 359.6, 81.4, True, True, WHEN, count=0x1FFFF, vin="V", qr_code="Q"
    )
    record = CODEC.decode(frame).records[0]
    assert (record.latitude, record.longitude, record.course_deg) == (52.5, 13.4, 0.0)
    assert record.lock_state is LockState.LOCKED and record.charging is True
    assert record.battery_pct == 81.0 and record.attributes["alive"] is False
    assert frame.endswith(b",FFFF$")
    with pytest.raises(ValueError, match="15-digit IMEI"):
        build_position_frame("12", 0, 0, 0, 0, 0, False, False, WHEN)


@pytest.mark.parametrize(
    ("action", "wire"),
    [
        ("lock", b"AT+GTRTO=pw,LOCK,,,,,,002A$"),
        ("unlock", b"AT+GTRTO=pw,UNLOCK,,,,,,002A$"),
        ("locate", b"AT+GTRTO=pw,QUERY,,,,,,002A$"),
        ("speed_limit:20", b"AT+GTRTO=pw,SPEED,20,,,,,002A$"),
    ],
)
def test_commands_carry_password_and_serial(action: str, wire: bytes) -> None:
    frame = OkaiCodec(password="pw").encode_command(IMEI, action, sequence=0x1002A)
    assert frame == wire
    command, params, serial = parse_command(frame)
    assert (command, serial) == ("RTO", "002A")
    assert "pw" not in params


@pytest.mark.parametrize(
    ("device_id", "action", "message"),
    [
        (IMEI, "alarm", "okai does not support 'alarm'"),
        (IMEI, "lock:1", "okai does not support 'lock:1'"),
        (IMEI, "speed_limit:4", "5 to 25 km/h"),
        (IMEI, "speed_limit:26", "5 to 25 km/h"),
        (IMEI, "speed_limit:", "5 to 25 km/h"),
        (IMEI, "speed_limit:1e1", "5 to 25 km/h"),
        ("dev-1", "lock", "15-digit IMEI"),
    ],
)
def test_unsupported_commands_raise_value_error(device_id: str, action: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CODEC.encode_command(device_id, action)


def test_command_answer_is_a_command_result_with_the_serial() -> None:
    ack = build_command_ack(IMEI, "RTO", "002A", WHEN, count=3)
    record = CODEC.decode(ack).records[0]
    assert record.kind is RecordKind.COMMAND_RESULT and record.command_result == "GTRTO"
    assert record.attributes["serial"] == "002A"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"hello world$", "not an OKAI @Track report"),
        (b"+RESP:GTFRI,ZK8056,861234567890128,\xff$", "non-ASCII"),
        (b"+RSP\x00\x00\x00\x00\x00\x00\x00\x20", "binary"),
        (b"+RESP:GTCFU,ZK8056,12345,a,b,c,0,1,2,20250314101502,01A6$", "15-digit IMEI"),
        (b"+RESP:GTCFU,ZK8056,861234567890128,a,b,c,0,20250314101502,01A6$", "fields"),
        (b"+RESP:GTMDR,ZK8056,861234567890128,a,b,c,2,1,2,3,4,5,6,x,y,01A6$", "2 samples"),
        (b"+RESP:GTADR,ZK8056,861234567890128,a,b,c,0,x,20250314101502,01A6$", "count field"),
        (b"+RESP:GTADR,ZK8056,861234567890128,a,b,c,100,x,20250314101502,01A6$", "count field"),
    ],
)
def test_garbage_is_a_frame_error_with_a_clear_message(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        CODEC.decode(frame, strict=False)


@pytest.mark.parametrize(
    "tail",
    [b",20250314101502$", b",2025031410150,01A6$", b",20250314101502,01G6$", b",,$"],
)
def test_bad_tail_is_refused_in_strict_mode_and_marked_in_lenient(tail: bytes) -> None:
    body = frame_of("+RESP:GTCFU,ZK8056,861234567890128,ES400,LVOKAI4Q0A1234567,QR0012345,0,")
    frame = body.rsplit(b",", 2)[0] + tail
    with pytest.raises(FrameError, match="tail"):
        CODEC.decode(frame)
    try:
        records = CODEC.decode(frame, strict=False).records
    except FrameError:
        return  # too few fields left for the layout: refused in lenient mode too
    assert all(not r.checksum_ok for r in records)


def test_framer_cuts_okai_reports_out_of_a_noisy_stream() -> None:
    framer = CODEC.framer()
    stream = b"\r\nnoise" + b"".join(f.data for f in FRAMES[:3])
    out = framer.feed(stream[:50]) + framer.feed(stream[50:])
    assert out == [f.data for f in FRAMES[:3]]


def test_what_is_not_public_is_named() -> None:
    assert {"GTFRI layout", "ECU info block", "speed-limit command"} <= set(NOT_PUBLIC)
