"""The Traccar frame corpus (tests/data/iot-frames) as the binary-codec tests use it.

Frames of one Traccar test method are replayed in ``seq`` order on one session, exactly as
the gateway would: the login's device id is passed to the frames that follow it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from app.integrations.iot.records import Codec, DecodeResult, DeviceRecord, RecordKind
from tests.helpers.iot_corpus import CORPUS_DIR

DECODER_KINDS = frozenset({"position", "attributes", "none"})
# Traccar expectation keys that have a DeviceRecord field, and how to read that field.
EXPECT_TO_FIELD = {
    "alarm": "alarms",
    "batteryLevel": "battery_pct",
    "result": "command_result",
    "altitude": "altitude_m",
    "latitude": "latitude",
    "longitude": "longitude",
    "valid": "valid_fix",
    "fixTime": "fix_time",
}


def load(protocol: str, subdir: str = "") -> list[dict]:
    """Every line of ``iot-frames/[subdir/]<protocol>.jsonl``, in file order."""
    path = CORPUS_DIR / subdir / f"{protocol}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def decoder_lines(protocol: str) -> list[dict]:
    return [line for line in load(protocol) if line["kind"] in DECODER_KINDS]


def line_id(line: dict) -> str:
    return f"{line['source'].rsplit('#', 1)[1]}-{line['seq']}"


def replay_until(codec: Codec, lines: list[dict], target: dict) -> DecodeResult:
    """Decode the frames of ``target``'s test method up to it, carrying the session id."""
    device_id = None
    session = sorted(
        (line for line in lines if line["source"] == target["source"]), key=lambda x: x["seq"]
    )
    for line in session:
        frame = bytes.fromhex(line["frame"])
        result = codec.decode(frame, device_id=device_id, strict=line.get("crc_ok") is not False)
        for record in result.records:
            if record.kind is RecordKind.LOGIN:
                device_id = record.device_id
        if line is target:
            return result
    raise AssertionError("target line not in its own session")


def assert_plausible_fix(record: DeviceRecord) -> None:
    """Traccar's implicit checks on every position (ProtocolTest), in our units."""
    assert record.kind is RecordKind.POSITION
    assert record.fix_time is not None and record.fix_time.tzinfo is not None
    assert datetime(1999, 1, 1, tzinfo=UTC) < record.fix_time
    assert record.fix_time < datetime.now(UTC) + timedelta(hours=25)
    assert record.latitude is not None and -90 <= record.latitude <= 90
    assert record.longitude is not None and -180 <= record.longitude <= 180
    if record.altitude_m is not None:
        assert -12262 <= record.altitude_m <= 18000
    if record.speed_kmh is not None:
        assert 0 <= record.speed_kmh <= 869 * 1.852
    if record.course_deg is not None:
        assert 0 <= record.course_deg <= 360
    if record.battery_pct is not None:
        assert 0 <= record.battery_pct <= 100


def assert_matches_expect(records: tuple[DeviceRecord, ...], expect: dict) -> int:
    """Compare the expectations that map to DeviceRecord fields; return how many did."""
    compared = 0
    for key, wanted in expect.items():
        field = EXPECT_TO_FIELD.get(key)
        if field is None:
            continue
        compared += 1
        values = [getattr(record, field) for record in records]
        if field == "alarms":
            assert any(wanted in value for value in values), (key, wanted, values)
        elif isinstance(wanted, float):
            assert any(v is not None and math.isclose(v, wanted, abs_tol=1e-5) for v in values)
        else:
            assert wanted in values, (key, wanted, values)
    return compared
