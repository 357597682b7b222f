"""Segway IoT TCP protocol (v1.4.4) codec: the corpus, every message type, the
operation-key exchange, commands, the shape rules of a checksum-less protocol, garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.omni import CODEC as OMNI
from app.integrations.iot.codecs.segway import (
    ACKED_TYPES,
    ALERTS,
    IGNORED,
    LOCK_FAILURES,
    UNLOCK_FAILURES,
    SegwayCodec,
    server_frame,
)
from app.integrations.iot.codecs.segway_build import (
    build_frame,
    build_report,
    parse_server_frame,
)
from app.integrations.iot.records import FrameError, LockState, RecordKind
from app.integrations.iot.simulator.speakers import SegwaySpeaker
from app.integrations.iot.simulator.vehicle import SimVehicle
from tests.helpers.iot_corpus import device_frames, load

CODEC = get_codec("segway")
IMEI = "123456789123456"
DEVICE_FRAMES = device_frames("segway")
SERVER_FRAMES = [f for f in load("segway") if f.kind == "command-response"]


def decode_one(text: str):
    result = CODEC.decode(text.encode("latin-1"))
    (record,) = result.records
    return record, result.ack


def ack_of(body: str) -> bytes:
    return f"\xff\xff*HBCS,NB,{IMEI},{body}#\n".encode("latin-1")


@pytest.mark.parametrize("frame", DEVICE_FRAMES, ids=lambda f: f.test_id)
def test_corpus_frame_decodes_as_its_line_expects(frame) -> None:
    expect = frame.expect
    if "frame_error" in expect:
        with pytest.raises(FrameError):
            CODEC.decode(frame.data)
        return
    result = CODEC.decode(frame.data)
    (record,) = result.records
    assert record.raw == frame.data and record.device_id == IMEI
    assert record.kind.value == expect.get("record_kind", "position")
    for key in ("battery_pct", "firmware", "speed_kmh", "odometer_km", "charging"):
        if key in expect:
            assert getattr(record, key) == pytest.approx(expect[key]), key
    if "lock_state" in expect:
        assert record.lock_state.value == expect["lock_state"]
    if "alarms" in expect:
        assert list(record.alarms) == expect["alarms"]
    if "success" in expect:
        assert record.attributes["success"] is expect["success"]
    if "battery2_pct" in expect:
        assert record.attributes["battery2_pct"] == expect["battery2_pct"]
    if frame.kind == "position":
        assert record.valid_fix
        assert record.latitude == pytest.approx(expect["latitude"], abs=1e-6)
        assert record.longitude == pytest.approx(expect["longitude"], abs=1e-6)
        assert record.fix_time == datetime.fromisoformat(expect["fix_time"])
    assert result.ack == (ack_of(expect["ack"]) if "ack" in expect else b"")


def test_corpus_covers_every_kind_and_names_its_sources() -> None:
    assert {f.kind for f in DEVICE_FRAMES} == {"position", "attributes", "none"}
    assert len(SERVER_FRAMES) == 3
    assert all(f.source for f in load("segway"))


def test_check_in_carries_iot_voltage_rssi_network_and_firmware() -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},Q0,412,80,28,46000,V127P3#")
    assert record.kind is RecordKind.LOGIN
    assert record.battery_pct == 80 and record.firmware == "V127P3"
    assert record.attributes["battery_voltage"] == pytest.approx(4.12)
    assert (record.attributes["rssi"], record.attributes["network"]) == (28, "46000")
    assert ack == b""  # a check-in is not echoed


@pytest.mark.parametrize(
    ("lock", "charging", "state"), [("0", "0", LockState.UNLOCKED), ("1", "1", LockState.LOCKED)]
)
def test_heartbeat_with_status(lock: str, charging: str, state: LockState) -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},H0,{lock},398,20,55,{charging}#")
    assert record.kind is RecordKind.STATUS
    assert (record.lock_state, record.battery_pct, record.charging) == (state, 55, charging == "1")
    assert record.attributes["battery_voltage"] == pytest.approx(3.98)
    assert ack == b""


def test_position_with_and_without_the_leading_flag_and_southern_western_hemispheres() -> None:
    body = "124458.00,V,2237.7514,S,11408.6214,W,3,2.5,151216,-4.5,M,A"
    for payload in (body, f"0,{body}"):
        record, _ = decode_one(f"*HBCR,NB,{IMEI},D0,{payload}#")
        assert record.kind is RecordKind.POSITION
        assert record.valid_fix is False  # V: kept, but marked
        assert record.latitude == pytest.approx(-(22 + 37.7514 / 60))
        assert record.longitude == pytest.approx(-(114 + 8.6214 / 60))
        assert (record.satellites, record.altitude_m, record.attributes["hdop"]) == (3, -4.5, 2.5)


def test_tracking_d1_is_a_position_or_the_answer_to_an_interval_setting() -> None:
    fix, _ = decode_one(
        f"*HBCR,NB,{IMEI},D1,0,124458.00,A,2237.7514,N,11408.6214,E,6,0.21,151216,10,M,A#"
    )
    interval, _ = decode_one(f"*HBCR,NB,{IMEI},D1,300#")
    assert fix.kind is RecordKind.POSITION and fix.valid_fix
    assert interval.kind is RecordKind.COMMAND_RESULT and interval.command_result == "D1,300"


@pytest.mark.parametrize(("code", "expected"), list(ALERTS.items()))
def test_alerts_carry_a_severity_and_are_acknowledged(code: str, expected) -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},W0,{code}#")
    assert record.kind is RecordKind.ALARM
    assert (record.alarms[0], record.attributes["severity"]) == expected
    assert ack == ack_of("W0")


def test_alert_codes_follow_levys_segway_page() -> None:
    assert [ALERTS[c][0] for c in "1234"] == ["movement", "fallDown", "tamper", "lowBattery"]
    record, _ = decode_one(f"*HBCR,NB,{IMEI},W0,9#")
    assert record.alarms == ("alarm",) and record.attributes["alarm_code"] == "9"


def test_fault_and_its_clearing() -> None:
    fault, fault_ack = decode_one(f"*HBCR,NB,{IMEI},E0,21#")
    cleared, cleared_ack = decode_one(f"*HBCR,NB,{IMEI},E1,21#")
    assert fault.kind is RecordKind.ALARM and fault.alarms == ("fault",)
    assert (fault.attributes["error"], fault.attributes["severity"]) == (21, "critical")
    assert cleared.kind is RecordKind.STATUS and cleared.attributes["fault_cleared"] == 21
    assert (fault_ack, cleared_ack) == (ack_of("E0"), ack_of("E1"))


def test_alert_cleared() -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},W1,2#")
    assert record.kind is RecordKind.STATUS and record.attributes["alarm_cleared"] == "2"
    assert ack == ack_of("W1")


def test_scooter_info_gives_speed_odometer_and_lock() -> None:
    record, _ = decode_one(f"*HBCR,NB,{IMEI},S6,76,3,21,98765,250,3600,1#")
    assert (record.battery_pct, record.speed_kmh, record.odometer_km) == (76, 21.0, 98.765)
    assert record.lock_state is LockState.LOCKED
    assert record.attributes["speed_mode"] == 3
    assert (record.attributes["range_10m"], record.attributes["ride_seconds"]) == (250, 3600)


def test_dual_batteries_main_pack_is_battery_pct_both_are_attributes() -> None:
    record, _ = decode_one(f"*HBCR,NB,{IMEI},S8,0,36,120,81,47,25,26,22,23#")
    assert record.kind is RecordKind.STATUS
    assert record.battery_pct == 81 and record.charging is False
    attributes = record.attributes
    assert (attributes["battery1_pct"], attributes["battery2_pct"]) == (81, 47)
    assert (attributes["battery_cycles"], attributes["controller_voltage"]) == (120, 36)
    assert (attributes["battery2_temp1_c"], attributes["battery2_temp2_c"]) == (22, 23)


def test_cell_voltages() -> None:
    record, _ = decode_one(f"*HBCR,NB,{IMEI},B1,3.7,3.8#")
    assert record.attributes["cell_voltages"] == [3.7, 3.8]
    with pytest.raises(FrameError, match="cell voltage"):
        CODEC.decode(f"*HBCR,NB,{IMEI},B1,3.7,x#".encode())


@pytest.mark.parametrize(
    ("frame", "attribute", "value"),
    [
        ("V0,2", "voice", 2),
        ("I0,8986001234567890123", "iccid", "8986001234567890123"),
        ("M0,AA:BB:CC:DD:EE:FF", "ble_mac", "AA:BB:CC:DD:EE:FF"),
    ],
)
def test_command_answers(frame: str, attribute: str, value) -> None:
    record, _ = decode_one(f"*HBCR,NB,{IMEI},{frame}#")
    assert record.kind is RecordKind.COMMAND_RESULT and record.command_result == frame
    assert record.attributes[attribute] == value


def test_versions_and_ble_key_answers() -> None:
    versions, _ = decode_one(f"*HBCR,NB,{IMEI},G0,144,1101,1102#")
    key, _ = decode_one(f"*HBCR,NB,{IMEI},K0,12345678#")
    assert versions.firmware == "144"
    assert key.kind is RecordKind.COMMAND_RESULT and key.command_result == "K0"
    assert "12345678" not in repr(key.attributes)  # the BLE key is a secret


@pytest.mark.parametrize("kind", sorted(IGNORED))
def test_every_deliberately_ignored_type_is_other_with_its_reason(kind: str) -> None:
    record, _ = decode_one(f"*HBCR,NB,{IMEI},{kind},1,2#")
    assert record.kind is RecordKind.OTHER
    assert record.attributes["ignored"] == IGNORED[kind]


def test_a_type_no_source_names_is_other_without_a_reason() -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},Z9,1#")
    assert record.kind is RecordKind.OTHER and "ignored" not in record.attributes
    assert ack == b""


def test_acks_are_the_documented_set_and_mirror_device_time_and_vendor() -> None:
    assert frozenset({"L0", "L1", "W0", "W1", "E0", "E1"}) == ACKED_TYPES
    result = CODEC.decode(f"*HBCR,NG,{IMEI},240101120000,L1,0,7,1700000000,4#".encode())
    assert result.ack == f"\xff\xff*HBCS,NG,{IMEI},240101120000,L1#\n".encode("latin-1")
    assert result.records[0].fix_time == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert result.records[0].attributes["ride_minutes"] == 4


def test_a_position_is_not_echoed_because_a_server_d0_means_locate() -> None:
    frame = f"*HBCR,NB,{IMEI},D0,0,124458.00,A,2237.7514,N,11408.6214,E,6,0.2,151216,1,M,A#"
    assert CODEC.decode(frame.encode()).ack == b""


@pytest.mark.parametrize(
    ("reply", "follow_up", "operation"),
    [
        ("R0,0,55,1234,1497689816", "L0,55,1234,1497689816", "unlock"),
        ("R0,1,77,admin,1497689900", "L1,77", "lock"),
    ],
)
def test_key_reply_completes_the_exchange(reply: str, follow_up: str, operation: str) -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},{reply}#")
    assert record.kind is RecordKind.OTHER  # a handshake step: the L0/L1 result acks
    assert record.attributes["operation"] == operation
    assert "55" not in repr(record.attributes) and "77" not in repr(record.attributes)
    assert ack == ack_of(follow_up)


@pytest.mark.parametrize(
    "reply", ["R0,2,55,1234,1", "R0,0,55,1234", "R0,0,5x,1234,1", "R0,0,55,a*b,1", "R0,0,55,12,³"]
)
def test_odd_key_replies_get_no_follow_up(reply: str) -> None:
    _, ack = decode_one(f"*HBCR,NB,{IMEI},{reply}#")
    assert ack == b""


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [("L0", s, r) for s, r in UNLOCK_FAILURES.items()]
    + [("L1", s, r) for s, r in LOCK_FAILURES.items()],
)
def test_lock_results_that_failed_say_why_and_leave_the_state_unknown(
    kind: str, status: str, reason: str
) -> None:
    record, ack = decode_one(f"*HBCR,NB,{IMEI},{kind},{status},1234,1497689816,0#")
    assert record.kind is RecordKind.COMMAND_RESULT
    assert record.attributes["success"] is False and record.attributes["reason"] == reason
    assert record.lock_state is LockState.UNKNOWN
    assert ack == ack_of(kind)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("unlock", "R0,0,20,7,1700000000"),
        ("lock", "R0,1,20,7,1700000000"),
        ("locate", "D0"),
        ("alarm", "V0,2"),
    ],
)
def test_encode_command(action: str, body: str) -> None:
    codec = SegwayCodec(clock=lambda: 1_700_000_000.5)
    frame = codec.encode_command(IMEI, action, sequence=7)
    assert frame == ack_of(body)
    assert parse_server_frame(frame) == (IMEI, body.split(",")[0], body.split(",")[1:])


def test_server_frames_match_the_lock_unlock_spec_examples() -> None:
    r0 = SegwayCodec(clock=lambda: 1497689816).encode_command(IMEI, "unlock", sequence=1234)
    _, l0 = decode_one(f"*HBCR,NB,{IMEI},R0,0,55,1234,1497689816#")
    _, l1 = decode_one(f"*HBCR,NB,{IMEI},R0,1,55,1234,1497689816#")
    assert [r0, l0, l1] == [f.data for f in SERVER_FRAMES]


@pytest.mark.parametrize(
    ("device_id", "action"), [(IMEI, "reboot"), ("12345", "lock"), (IMEI + "0", "locate")]
)
def test_encode_command_rejects_bad_input(device_id: str, action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode_command(device_id, action)


@pytest.mark.parametrize("body", ["", "D0#", "a*b", "L0\n", "é"])
def test_server_frame_refuses_frame_characters(body: str) -> None:
    with pytest.raises(ValueError):
        server_frame(IMEI, body)


def test_command_round_trip_through_a_simulated_scooters_answers() -> None:
    """unlock: R0 out, the scooter's R0 back, our L0 out, its L0 result back."""
    codec = SegwayCodec(clock=lambda: 1_700_000_000)
    _imei, kind, params = parse_server_frame(codec.encode_command(IMEI, "unlock", sequence=42))
    assert (kind, params) == ("R0", ["0", "20", "42", "1700000000"])
    key_reply = build_frame(IMEI, "R0", params[0], 901, params[2], params[3])
    follow_up = codec.decode(key_reply.rstrip(b"\n")).ack
    assert parse_server_frame(follow_up) == (IMEI, "L0", ["901", "42", "1700000000"])
    result = codec.decode(build_frame(IMEI, "L0", 0, 42, 1700000003).rstrip(b"\n"))
    assert result.records[0].lock_state is LockState.UNLOCKED
    assert result.records[0].attributes["success"] is True


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"hello",
        b"*HBCR,NB,12345,Q0,1#",  # not an IMEI
        b"*HBCR,NB,1234567891234567,Q0,1#",  # 16 digits
        b"*HBCR,NB,123456789123456,Q0,412,80,28",  # no terminator
        b"HBCR,NB,123456789123456,Q0,412,80,28#",  # no start
        b"*HBCR,N,123456789123456,Q0,412#",  # one-letter vendor
        b"*HBCR,NB,123456789123456,q0,412#",  # lower-case type
        b"*HBCR,NB,123456789123456,Q0,abc,80,28#",
        b"*HBCR,NB,123456789123456,H0,0,412,28,80,x#",
        b"*HBCR,NB,123456789123456,S6,76,3,fast#",
        b"*HBCR,NB,123456789123456,D0,0,garbage#",
        b"*HBCR,NB,123456789123456,D0,0,124458.00,A,2237.7514,N,11408.6214,E,6,0.21,321316,10,M,A#",
        b"*HBCR,NB,123456789123456,991340250000,H0,0#",  # impossible device time
        b"*HBCS,NB,123456789123456,D0#",  # a server frame
        b"\xff\xff*HBCS,NB,123456789123456,D0#\n",
    ],
)
def test_malformed_frames_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        CODEC.decode(frame)


def test_omni_and_segway_each_name_the_others_frames() -> None:
    with pytest.raises(FrameError, match="Omni header"):
        CODEC.decode(b"*SCOR,OM,123456789123456,Q0,412,80,28#")
    with pytest.raises(FrameError, match="looks like Segway"):
        OMNI.decode(b"*HBCR,NB,123456789123456,Q0,412,80,28#")
    assert OMNI.decode(b"*HBCR,NG,123456789123456,Q0,412,80,28#").records  # Traccar's xrb28


def test_report_round_trip_from_the_device_builder() -> None:
    when = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
    stream = build_report(
        IMEI, 52.5163, -13.3777, 14.4, 77, True, when, odometer_km=12.5, second_battery_pct=60
    )
    frames = CODEC.framer().feed(stream)
    heartbeat, fix, info, batteries = (CODEC.decode(f).records[0] for f in frames)
    assert (heartbeat.battery_pct, heartbeat.lock_state) == (77, LockState.LOCKED)
    assert fix.fix_time == when
    assert fix.latitude == pytest.approx(52.5163, abs=1e-6)
    assert fix.longitude == pytest.approx(-13.3777, abs=1e-6)
    assert (info.speed_kmh, info.odometer_km) == (14.0, 12.5)
    assert (batteries.battery_pct, batteries.attributes["battery2_pct"]) == (77, 60)


def test_framer_splits_two_messages_in_one_chunk_skips_noise_and_server_prefixes() -> None:
    framer = CODEC.framer()
    chunk = (
        b"\r\nnoise*HBC\xff\xff"
        + f"*HBCR,NB,{IMEI},H0,0,412,28,80,0#\n*HBCR,NB,{IMEI},L1,0,1,2,3#\n".encode()
    )
    assert framer.feed(chunk) == [
        f"*HBCR,NB,{IMEI},H0,0,412,28,80,0#".encode(),
        f"*HBCR,NB,{IMEI},L1,0,1,2,3#".encode(),
    ]


def test_framer_reassembles_byte_by_byte_and_recovers_from_an_oversized_frame() -> None:
    frame = f"*HBCR,NB,{IMEI},Q0,412,80,28#".encode()
    framer = CODEC.framer(max_frame=64)
    assert [f for byte in frame + b"\n" for f in framer.feed(bytes([byte]))] == [frame]
    with pytest.raises(FrameError, match="segway frame"):
        framer.feed(b"*" + b"A" * 100)
    assert framer.feed(frame) == [frame]


def test_parse_server_frame_rejects_device_frames() -> None:
    with pytest.raises(FrameError):
        parse_server_frame(f"*HBCR,NB,{IMEI},Q0,1#".encode())


def test_build_frame_validates_imei() -> None:
    with pytest.raises(ValueError):
        build_frame("abc", "H0")


def test_simulated_scooter_refuses_a_wrong_operation_key_the_way_the_spec_says() -> None:
    speaker = SegwaySpeaker(IMEI)
    vehicle = SimVehicle(IMEI, "scooter", 52.5, 13.4, locked=True)
    codec = SegwayCodec(clock=lambda: 1_700_000_000)
    key_reply = speaker.on_server_frame(vehicle, codec.encode_command(IMEI, "unlock")).reply
    follow_up = codec.decode(key_reply.rstrip(b"\n")).ack
    wrong = follow_up.replace(b"L0,17,", b"L0,18,")
    assert wrong != follow_up
    (result,) = codec.decode(speaker.on_server_frame(vehicle, wrong).reply.rstrip(b"\n")).records
    assert result.attributes["reason"] == "operation key wrong or expired"
    assert vehicle.locked is True
    answer = speaker.on_server_frame(vehicle, follow_up)
    assert answer.action == "unlock" and vehicle.locked is False
