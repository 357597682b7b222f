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


# Expectation keys compared against a DeviceRecord field, with Traccar's unit turned into ours.
_FIELD_EXPECTS = {
    "batteryLevel": ("battery_pct", 1.0),
    "altitude": ("altitude_m", 1.0),
    "speed": ("speed_kmh", 1.852),  # Traccar asserts knots
    "course": ("course_deg", 1.0),
    "latitude": ("latitude", 1.0),
    "longitude": ("longitude", 1.0),
}


def expect_mismatches(records: tuple[DeviceRecord, ...], line: dict) -> list[str]:
    """What in ``records`` disagrees with the Traccar test behind ``line`` (empty: agrees).

    Stricter than ``assert_matches_expect``: a ``position`` line needs a plausible fix, a
    ``none`` line must give no position, and every asserted key is compared, the ones with
    no typed field against ``DeviceRecord.attributes`` under Traccar's own key name.
    """
    problems: list[str] = []
    positions = [r for r in records if r.kind is RecordKind.POSITION]
    if line["kind"] == "position":
        try:
            assert len(positions) == 1
            assert_plausible_fix(positions[0])
        except AssertionError:
            problems.append("no plausible position")
    elif line["kind"] == "none" and positions:
        problems.append("a position where Traccar gives none")
    elif line["kind"] == "attributes" and not records:
        problems.append("no record")
    for key, wanted in line["expect"].items():
        if not _expect_holds(records, key, wanted):
            problems.append(f"{key}={wanted!r}")
    return problems


def _expect_holds(records: tuple[DeviceRecord, ...], key: str, wanted: object) -> bool:
    if key == "alarm":
        return any(wanted in r.alarms for r in records)
    if key == "result":
        return any(wanted in (r.command_result, r.attributes.get("result")) for r in records)
    if key == "valid":
        return any(r.valid_fix is wanted for r in records)
    if key == "fixTime":
        when = datetime.fromisoformat(str(wanted).replace("Z", "+00:00"))
        return any(r.fix_time == when for r in records)
    if key in _FIELD_EXPECTS:
        field, scale = _FIELD_EXPECTS[key]
        values = [getattr(r, field) for r in records]
        values = [v / scale if v is not None else None for v in values]
    else:
        values = [r.attributes.get(key) for r in records]
    if wanted is None:
        return all(v is None for v in values)
    if isinstance(wanted, bool) or not isinstance(wanted, int | float):
        return wanted in values
    return any(
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isclose(v, wanted, abs_tol=1e-5)
        for v in values
    )


def fidelity_id(line: dict) -> str:
    """``line_id`` made unique across Traccar commits: frames added from an older stored
    version of a test (another commit, same method name) carry that commit's prefix."""
    commit = line["source"].split("@", 1)[1][:7]
    return line_id(line) if commit == "9e5c458" else f"{commit}-{line_id(line)}"


def replay_session(codec: Codec, lines: list[dict], target: dict) -> DecodeResult:
    """Like ``replay_until``, but a frame before ``target`` that the codec refuses (a
    truncated or glued test frame) is skipped as the gateway would skip it."""
    device_id = None
    session = sorted(
        (line for line in lines if line["source"] == target["source"]), key=lambda x: x["seq"]
    )
    for line in session:
        frame = bytes.fromhex(line["frame"])
        strict = line.get("crc_ok") is not False
        if line is target:
            return codec.decode(frame, device_id=device_id, strict=strict)
        try:
            records = codec.decode(frame, device_id=device_id, strict=strict).records
        except ValueError:
            continue
        for record in records:
            if record.kind is RecordKind.LOGIN:
                device_id = record.device_id
    raise AssertionError("target line not in its own session")


def agreement(codec: Codec, lines: list[dict]) -> tuple[int, int, dict[str, list[str]]]:
    """(frames agreeing, frames with a valid checksum, mismatches by ``fidelity_id``).

    Only frames whose checksum holds count, as the decoder-fidelity target says; each is
    replayed on its test method's session like the corpus tests do.
    """
    valid = [line for line in lines if line.get("crc_ok") is not False]
    failures: dict[str, list[str]] = {}
    for line in valid:
        try:
            problems = expect_mismatches(replay_session(codec, lines, line).records, line)
        except ValueError as error:  # FrameError included: a refused frame disagrees
            problems = [f"refused: {error}"]
        if problems:
            failures[fidelity_id(line)] = problems
    return len(valid) - len(failures), len(valid), failures
