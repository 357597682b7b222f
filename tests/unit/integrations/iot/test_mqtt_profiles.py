"""MQTT profiles without a broker: topic matching, payload mapping, refusals, commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.integrations.iot.mqtt.client import MqttConfig
from app.integrations.iot.mqtt.flespi import FLESPI
from app.integrations.iot.mqtt.zimo import ZIMO
from app.integrations.iot.records import FrameError, LockState, RecordKind

IMEI = "861234567890123"


def payload(**values: object) -> bytes:
    return json.dumps({"ident": IMEI, **values}).encode()


def test_a_zimo_report_maps_onto_a_record() -> None:
    raw = payload(
        timestamp=1_770_000_000.25,
        **{
            "position.latitude": 52.5,
            "position.longitude": 13.4,
            "position.satellites": 7,
            "battery.level": 55,
            "battery.charging.status": True,
            "lock.status": True,
            "fall.alarm": True,
            "buzzer.alarm.status": False,
            "ecu.software.version.enum": 12,
            "unlisted.parameter": 1,
        },
    )
    [record] = ZIMO.decode(f"zimo/{IMEI}/report", raw)
    assert (record.protocol, record.kind, record.device_id) == ("mqtt-zimo", "position", IMEI)
    assert record.fix_time == datetime(2026, 2, 2, 2, 40, 0, 250000, tzinfo=UTC)
    assert (record.latitude, record.longitude, record.satellites) == (52.5, 13.4, 7)
    assert record.valid_fix and record.charging is True and record.battery_pct == 55.0
    assert record.lock_state is LockState.LOCKED and record.alarms == ("fall",)
    assert record.firmware == "12" and record.attributes == {"buzzer.alarm.status": False}
    assert record.raw == raw


def test_a_report_without_position_is_a_status_or_an_alarm() -> None:
    [status] = ZIMO.decode(f"zimo/{IMEI}/report", payload(**{"battery.level": 40}))
    assert status.kind is RecordKind.STATUS and not status.valid_fix
    [alarm] = ZIMO.decode(f"zimo/{IMEI}/report", payload(**{"fall.alarm": True}))
    assert alarm.kind is RecordKind.ALARM


def test_an_invalid_fix_keeps_its_coordinates_but_says_so() -> None:
    raw = payload(**{"position.latitude": 1.0, "position.longitude": 2.0, "position.valid": False})
    [record] = FLESPI.decode("flespi/message/gw/devices/7", raw)
    assert record.latitude == 1.0 and record.valid_fix is False


def test_flespi_iso_timestamps_and_arrays() -> None:
    raw = json.dumps(
        [{"ident": "a1", "timestamp": "2026-02-01T10:00:00"}, {"ident": "a2", "timestamp": 5}]
    ).encode()
    first, second = FLESPI.decode("flespi/message/gw/devices/7", raw)
    assert first.fix_time == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert (first.device_id, second.device_id) == ("a1", "a2")


@pytest.mark.parametrize(
    ("topic", "raw", "reason"),
    [
        (f"zimo/{IMEI}/report", b"\xff\xfe", "not JSON"),
        (f"zimo/{IMEI}/report", b"[]", "holds 0 messages"),
        (f"zimo/{IMEI}/report", b"[1]", "JSON int, not an object"),
        (f"zimo/{IMEI}/report", b"[" * 100_000, "nested too deeply|not JSON|payload of"),
        (f"zimo/{IMEI}/report", payload(**{"position.latitude": 91}), "out of range"),
        (f"zimo/{IMEI}/report", payload(**{"battery.level": True}), "not a number"),
        (f"zimo/{IMEI}/report", payload(**{"lock.status": "yes"}), "not true/false"),
        (f"zimo/{IMEI}/report", payload(**{"position.satellites": 2.5}), "satellite count"),
        (f"zimo/{IMEI}/report", payload(timestamp="yesterday"), "not a time"),
        (f"zimo/{IMEI}/report", payload(timestamp=1e20), "not a time"),
        (f"zimo/{IMEI}/report", json.dumps({"ident": "other"}).encode(), "payload 'other'"),
        (f"zimo/{IMEI}/report/extra", payload(), "does not match"),
        (f"scooter/{IMEI}/report", payload(), "does not match"),
        ("zimo/" + "9" * 40 + "/report", payload(), "characters"),
        ("flespi/message/gw/devices/7", b"{}", "without 'ident'"),
        ("flespi/message/gw/devices/7", json.dumps({"ident": True}).encode(), "not a string"),
        ("flespi/message/gw/devices/7", json.dumps({"ident": "a b\x00"}).encode(), "characters"),
    ],
)
def test_bad_publishes_are_refused_with_the_reason(topic: str, raw: bytes, reason: str) -> None:
    profile = FLESPI if topic.startswith("flespi") else ZIMO
    with pytest.raises(FrameError, match=reason):
        profile.decode(topic, raw)


def test_topic_prefix_and_filters() -> None:
    assert ZIMO.topic_filter() == "zimo/+/report"
    assert ZIMO.topic_filter("/fleet-a/") == "fleet-a/zimo/+/report"
    assert FLESPI.topic_filter() == "flespi/message/gw/devices/+"
    assert ZIMO.ident_in_topic(f"fleet-a/zimo/{IMEI}/report", "fleet-a") == IMEI
    assert FLESPI.ident_in_topic("flespi/message/gw/devices/7") is None


def test_commands_are_published_on_the_device_topic() -> None:
    topic, body = ZIMO.encode_command(IMEI, "alarm", 42, "fleet-a")
    assert topic == f"fleet-a/zimo/{IMEI}/command"
    assert json.loads(body) == {"command": "buzzer", "seq": 42}
    assert ZIMO.actions == ("lock", "unlock", "locate", "alarm")
    with pytest.raises(ValueError, match="mqtt-flespi has no 'lock' command"):
        FLESPI.encode_command(IMEI, "lock", 1)


def test_broker_settings_keep_the_password_out_of_reprs_and_refuse_other_schemes() -> None:
    config = MqttConfig("mqtts://broker.example", username="console", password="s3cret")
    assert "s3cret" not in repr(config)
    assert config.endpoint() == ("broker.example", 8883, True)
    assert MqttConfig("mqtt://10.0.0.5").endpoint() == ("10.0.0.5", 1883, False)
    with pytest.raises(ValueError, match="mqtt://host:port or mqtts://host:port"):
        MqttConfig("http://broker.example").endpoint()
