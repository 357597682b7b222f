"""Omni (Traccar xrb28) codec against the captured frames, the lock handshake and framing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.omni import (
    OmniCodec,
    build_frame,
    build_position_frame,
    encode_custom,
    parse_server_frame,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from tests.helpers.iot_corpus import device_frames, load

CODEC = get_codec("omni")
IMEI = "867584030387299"
DEVICE_FRAMES = device_frames("omni")
ENCODER_FRAMES = [f for f in load("omni") if f.kind == "command-response"]


def assert_plausible_fix(record) -> None:
    """The checks every Traccar position test makes (ProtocolTest.verifyDecodedPosition)."""
    assert record.kind is RecordKind.POSITION
    assert record.valid_fix is True
    assert -90 <= record.latitude <= 90 and -180 <= record.longitude <= 180
    assert (
        datetime(1999, 1, 1, tzinfo=UTC) < record.fix_time < datetime.now(UTC) + timedelta(hours=25)
    )
    assert record.device_id and record.raw


@pytest.mark.parametrize("frame", DEVICE_FRAMES, ids=lambda f: f.test_id)
def test_corpus_frame_decodes_as_traccar_expects(frame) -> None:
    records = CODEC.decode(frame.data).records
    positions = [r for r in records if r.kind is RecordKind.POSITION]
    if frame.kind == "position":
        assert positions
        for record in positions:
            assert_plausible_fix(record)
    elif frame.kind == "attributes":
        assert records and records[0].attributes
    else:
        assert not positions
    assert all(r.raw == frame.data for r in records)


def test_corpus_covers_positions_and_attributes() -> None:
    assert {f.kind for f in DEVICE_FRAMES} == {"position", "attributes"}


def test_sign_in_carries_battery_voltage_and_rssi() -> None:
    (record,) = CODEC.decode(b"*SCOR,OM,123456789123456,Q0,412,80,28#").records
    assert record.kind is RecordKind.LOGIN
    assert record.device_id == "123456789123456"
    assert record.battery_pct == 80
    assert record.attributes["battery_voltage"] == pytest.approx(4.12)
    assert record.attributes["rssi"] == 28


def test_position_fields_are_decoded() -> None:
    frame = (
        b"*SCOR,OM,867584030387299,D0,0,012102.00,A,0608.00062,S,10659.70331,E,"
        b"12,0.69,151118,30.3,M,A#"
    )
    (record,) = CODEC.decode(frame).records
    assert record.fix_time == datetime(2018, 11, 15, 1, 21, 2, tzinfo=UTC)
    assert record.latitude == pytest.approx(-(6 + 8.00062 / 60), abs=1e-6)
    assert record.longitude == pytest.approx(106 + 59.70331 / 60, abs=1e-6)
    assert (record.satellites, record.altitude_m) == (12, 30.3)
    assert record.speed_kmh is None  # D0 has no speed field


def test_invalid_fix_is_kept_but_marked() -> None:
    frame = (
        b"*HBCR,NG,867584030387299,D0,0,012102.00,V,0608.00062,N,10659.70331,W,"
        b"3,9.9,151118,30.3,M,A#"
    )
    (record,) = CODEC.decode(frame).records
    assert record.valid_fix is False
    assert record.longitude < 0


@pytest.mark.parametrize(
    ("frame", "state"),
    [
        (b"*SCOR,OM,867584030387299,H0,1,412,28,80#", LockState.LOCKED),
        (b"*SCOR,OM,867584030387299,H0,0,412,28,80#", LockState.UNLOCKED),
        (b"*SCOR,OM,867584030387299,L0,0,1234,1497689816#", LockState.UNLOCKED),
        (b"*SCOR,OM,867584030387299,L1,0,1234,1497689816,3#", LockState.LOCKED),
        (b"*SCOR,OM,867584030387299,L0,1,1234,1497689816#", LockState.UNKNOWN),
    ],
)
def test_lock_state_from_heartbeat_and_replies(frame: bytes, state: LockState) -> None:
    (record,) = CODEC.decode(frame).records
    assert record.lock_state is state


@pytest.mark.parametrize(
    ("code", "alarm"), [("1", "movement"), ("2", "fallDown"), ("3", "lowBattery")]
)
def test_alarm_frames_are_acknowledged(code: str, alarm: str) -> None:
    result = CODEC.decode(f"*SCOR,OM,{IMEI},W0,{code}#".encode())
    assert result.records[0].kind is RecordKind.ALARM
    assert result.records[0].alarms == (alarm,)
    assert result.ack == f"\xff\xff*SCOS,OM,{IMEI},W0#\n".encode("latin-1")


def test_ack_mirrors_the_device_header_and_time() -> None:
    result = CODEC.decode(f"*BGCR,OM,{IMEI},240101120000,L0,0,1234,1497689816#".encode())
    assert result.ack == f"\xff\xff*BGCS,OM,{IMEI},240101120000,L0#\n".encode("latin-1")
    assert result.records[0].fix_time == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_heartbeat_needs_no_ack() -> None:
    assert CODEC.decode(f"*SCOR,OM,{IMEI},H0,0,412,28,80#".encode()).ack == b""


@pytest.mark.parametrize(
    ("reply", "follow_up"),
    [("R0,0,55,1234,1497689816", "L0,55,1234,1497689816"), ("R0,1,55,1234,1497689816", "L1,55")],
)
def test_key_reply_completes_the_lock_handshake(reply: str, follow_up: str) -> None:
    result = CODEC.decode(f"*SCOR,OM,{IMEI},{reply}#".encode())
    assert result.records[0].kind is RecordKind.COMMAND_RESULT
    assert result.records[0].command_result == reply
    assert result.ack == b"\xff\xff" + f"*SCOS,OM,{IMEI},{follow_up}#\n".encode()


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("unlock", "R0,0,20,7,1700000000"),
        ("lock", "R0,1,20,7,1700000000"),
        ("locate", "D0"),
        ("alarm", "S8,2,0"),
    ],
)
def test_encode_command(action: str, body: str) -> None:
    codec = OmniCodec(clock=lambda: 1_700_000_000.5)
    frame = codec.encode_command(IMEI, action, sequence=7)
    assert frame == f"\xff\xff*SCOS,OM,{IMEI},{body}#\n".encode("latin-1")
    assert parse_server_frame(frame)[:2] == (IMEI, body.split(",")[0])


@pytest.mark.parametrize("frame", ENCODER_FRAMES, ids=lambda f: f.test_id)
def test_encoder_matches_traccar(frame) -> None:
    command = frame.expect["command"]
    imei = parse_server_frame(frame.data)[0]
    data = (
        f"D1,{command['frequency']}" if command["type"] == "positionPeriodic" else command["data"]
    )
    assert encode_custom(imei, data) == frame.data


def test_encoder_corpus_present() -> None:
    assert len(ENCODER_FRAMES) == 2


@pytest.mark.parametrize(
    ("device_id", "action"), [(IMEI, "reboot"), ("12345", "lock"), (IMEI + "0", "locate")]
)
def test_encode_command_rejects_bad_input(device_id: str, action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode_command(device_id, action)


@pytest.mark.parametrize("data", ["", "D0#", "a*b", "L0\n"])
def test_custom_command_refuses_frame_characters(data: str) -> None:
    with pytest.raises(ValueError):
        encode_custom(IMEI, data)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"hello",
        b"*SCOR,OM,12345,Q0,1#",
        b"*SCOR,OM,867584030387299,Q0,abc,80,28#",
        b"*SCOR,OM,867584030387299,D0,0,garbage#",
        b"*SCOR,OM,867584030387299,D0,0,012102.00,A,0608.00062,S,10659.70331,E,12,0.69,321318,30.3,M,A#",
        b"*SCOR,OM,867584030387299,991340250000,H0,0#",
    ],
)
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        CODEC.decode(frame)


def test_round_trip_from_device_builder() -> None:
    when = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
    stream = build_position_frame(IMEI, 52.5163, -13.3777, 12.0, 90.0, 77, True, when)
    frames = CODEC.framer().feed(stream)
    records = [r for f in frames for r in CODEC.decode(f).records]
    status, fix = records
    assert (status.battery_pct, status.lock_state) == (77, LockState.LOCKED)
    assert fix.fix_time == when
    assert fix.latitude == pytest.approx(52.5163, abs=1e-6)
    assert fix.longitude == pytest.approx(-13.3777, abs=1e-6)
    assert all(r.device_id == IMEI for r in records)


def test_builder_rounds_minutes_without_overflow() -> None:
    frame = build_position_frame(IMEI, 0.99999999, 9.99999999, 0, 0, 50, False, datetime.now(UTC))
    fix = CODEC.decode(CODEC.framer().feed(frame)[1]).records[0]
    assert fix.latitude == pytest.approx(1.0, abs=1e-6)
    assert fix.longitude == pytest.approx(10.0, abs=1e-6)


def test_build_frame_validates_imei() -> None:
    with pytest.raises(ValueError):
        build_frame("abc", "H0")


def test_framer_splits_two_messages_in_one_chunk_and_skips_noise() -> None:
    framer = CODEC.framer()
    chunk = (
        b"\r\nnoise*SCO"
        + b"*SCOR,OM,867584030387299,H0,0,412,28,80#\r\n*SCOR,OM,867584030387299,L1,0,1,2,3#\r\n"
    )
    frames = framer.feed(chunk)
    assert frames == [
        b"*SCOR,OM,867584030387299,H0,0,412,28,80#",
        b"*SCOR,OM,867584030387299,L1,0,1,2,3#",
    ]


def test_framer_reassembles_byte_by_byte() -> None:
    framer = CODEC.framer()
    frame = b"*SCOR,OM,123456789123456,Q0,412,80,28#"
    out = [f for byte in frame + b"\r\n" for f in framer.feed(bytes([byte]))]
    assert out == [frame]


def test_framer_rejects_oversized_frame_then_recovers() -> None:
    framer = CODEC.framer(max_frame=64)
    with pytest.raises(FrameError):
        framer.feed(b"*" + b"A" * 100)
    assert framer.feed(b"*SCOR,OM,123456789123456,Q0,1,2,3#") == [
        b"*SCOR,OM,123456789123456,Q0,1,2,3#"
    ]


def test_parse_server_frame_rejects_device_frames() -> None:
    with pytest.raises(FrameError):
        parse_server_frame(b"*SCOR,OM,123456789123456,Q0,1,2,3#")
