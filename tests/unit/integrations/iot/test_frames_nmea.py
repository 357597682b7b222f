"""NMEA 0183 codec against the captured frames (Traccar t55), checksums, identity and framing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.nmea import (
    NOT_REPRODUCED,
    NmeaCodec,
    build_identity,
    build_rmc,
    checksum,
    sentence,
)
from app.integrations.iot.records import FrameError, RecordKind
from tests.helpers.iot_corpus import device_frames, sessions
from tests.unit.integrations.iot.binary_corpus import expect_mismatches

CODEC = get_codec("nmea")
FRAMES = device_frames("nmea")
SESSIONS = sessions(FRAMES)


# Traccar expectations we knowingly do not reproduce, by (commit, test method, seq).
GAPS = {
    ("014cf82", "testMaxonDecode", 2): NOT_REPRODUCED["fix before $GPFID"],
    ("014cf82", "testDecode", 17): NOT_REPRODUCED["id with a space"],
}


def replay(session, *, strict: bool = False):
    """Decode one test method's frames in order on one connection, like Traccar's tests.

    A session taken from an older stored test starts with the id its earlier frames gave
    (``context.device_id``), since those frames are in the file once only. A refused
    frame yields None for its records, and the session goes on as on a live connection."""
    device_id = session[0].extra.get("context", {}).get("device_id")
    for frame in session:
        try:
            records = CODEC.decode(frame.data, device_id=device_id, strict=strict).records
        except FrameError:
            yield frame, None
            continue
        for record in records:
            if record.kind is RecordKind.LOGIN:
                device_id = record.device_id
        yield frame, records


def _key(frame) -> tuple[str, str, int]:
    return frame.source.split("@")[1][:7], frame.source.rsplit("#", 1)[-1], frame.seq


@pytest.mark.parametrize(
    "session",
    SESSIONS,
    ids=lambda s: s[0].source.split("@")[1][:7] + s[0].source.rsplit("#", 1)[-1],
)
def test_corpus_sessions_decode_as_traccar_expects(session) -> None:
    """Frames whose checksum is absent or right agree with Traccar's asserts (position,
    time, attributes under Traccar's names), except the named gaps."""
    for frame, records in replay(session):
        if frame.extra.get("nmea_checksum_ok") is False or _key(frame) in GAPS:
            continue
        assert records is not None, frame.extra["frame"]
        assert expect_mismatches(records, frame.extra) == [], frame.extra["frame"]
        positions = [r for r in records if r.kind is RecordKind.POSITION]
        assert all(r.device_id for r in positions)


def test_agreement_with_traccar_is_all_but_the_gaps() -> None:
    disagreeing = set()
    for session in SESSIONS:
        for frame, records in replay(session):
            if frame.extra.get("nmea_checksum_ok") is False:
                continue
            if records is None or expect_mismatches(records, frame.extra):
                disagreeing.add(_key(frame))
    assert disagreeing == set(GAPS)


def test_every_reason_the_codec_names_is_a_gap() -> None:
    assert set(GAPS.values()) == set(NOT_REPRODUCED.values())


def test_sentence_without_checksum_and_slashed_id_prefix_are_accepted() -> None:
    frame = b"4711/022789000688081/$GPRMC,133343,A,5308.56325,N,1029.12850,E,0.0,0.0,290316,,"
    (record,) = CODEC.decode(frame).records
    assert record.device_id == "022789000688081" and record.checksum_ok
    assert (record.latitude, record.longitude) == pytest.approx((53.142721, 10.485475), abs=1e-6)


def test_vendor_fields_after_the_checksum_are_accepted() -> None:
    body = "GPRMC,073446.000,A,1255.5125,N,07738.2948,E,0.00,0.53,080316,D"
    (record,) = CODEC.decode(
        f"${body}*{checksum(body)},11,865733027593268,1".encode(), device_id="d"
    ).records
    assert record.kind is RecordKind.POSITION and record.checksum_ok


def test_trccr_is_a_position_in_decimal_degrees() -> None:
    frame = b"$TRCCR,20140111000000.000,A,60.000000,60.000000,0.00,0.00,0.00,50,*3a"
    (record,) = CODEC.decode(frame, device_id="d").records
    assert record.fix_time == datetime(2014, 1, 11, tzinfo=UTC)
    assert (record.latitude, record.longitude, record.battery_pct) == (60.0, 60.0, 50.0)


def test_corpus_has_every_kind() -> None:
    assert {f.kind for f in FRAMES} == {"position", "attributes", "none"}


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f.test_id)
def test_checksum_strict_and_lenient(frame) -> None:
    """A wrong checksum is refused strictly and marked leniently; none or a right one passes."""
    if frame.extra["nmea_checksum_ok"] is False:
        with pytest.raises(FrameError, match="checksum"):
            CODEC.decode(frame.data, device_id="dev")
        lenient = CODEC.decode(frame.data, device_id="dev", strict=False).records
        assert all(r.checksum_ok is False for r in lenient)
    else:
        try:
            strict = CODEC.decode(frame.data, device_id="dev").records
        except FrameError as error:  # refused for its id (a GAP), never for its checksum
            assert "checksum" not in str(error)
            return
        assert all(r.checksum_ok for r in strict)


def test_rmc_speed_is_converted_from_knots() -> None:
    frame = sentence("GPRMC,120000.00,A,4828.10,N,01353.52,E,10.0,45.5,180915,,,A")
    (record,) = CODEC.decode(frame, device_id="gps").records
    assert record.speed_kmh == pytest.approx(18.52)
    assert record.course_deg == 45.5
    assert record.fix_time == datetime(2015, 9, 18, 12, tzinfo=UTC)


def test_position_without_identity_is_held_back() -> None:
    frame = sentence("GPRMC,120000.00,A,4828.10,N,01353.52,E,0.0,0.0,180915,,,A")
    assert CODEC.decode(frame).records == ()
    assert CODEC.decode(b"358244017671308" + frame).records[0].device_id == "358244017671308"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 3, 2, 0, 5, tzinfo=UTC), datetime(2024, 3, 1, 23, 59, 50, tzinfo=UTC)),
        (
            datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC),
            datetime(2024, 3, 1, 23, 59, 50, tzinfo=UTC),
        ),
    ],
)
def test_time_only_sentences_take_the_nearest_date(now: datetime, expected: datetime) -> None:
    codec = NmeaCodec(clock=lambda: now)
    frame = sentence("GPGGA,235950.00,4828.10,N,01353.52,E,1,08,1.0,300.5,M,47.0,M,,")
    (record,) = codec.decode(frame, device_id="gps").records
    assert record.fix_time == expected
    assert (record.satellites, record.altitude_m) == (8, 300.5)


def test_gga_without_fix_is_not_valid() -> None:
    frame = sentence("GPGGA,120000.00,,,,,0,00,99.9,,M,,M,,")
    (record,) = CODEC.decode(frame, device_id="gps").records
    assert record.valid_fix is False and record.latitude is None


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"hello world",
        b"$GPRMC,120000,A,4828.10,N,01353.52,E,0.0,0.0,180915,,,A*00",
        b"$GPRMC,120000,A,4828.10,N,01353.52,E,0.0,0.0,180915,,,A*Z1",
        sentence("GPRMC,120000,A,48x8.10,N,01353.52,E,0.0,0.0,180915,,,A"),
        sentence("GPRMC,120000,A,4878.10,N,01353.52,E,0.0,0.0,180915,,,A"),
        sentence("GPRMC,120000,A,4828.10,N,01353.52,E,nan,0.0,180915,,,A"),
        sentence("GPRMC,250000,A,4828.10,N,01353.52,E,0.0,0.0,180915,,,A"),
        sentence("GPRMC,120000,A,4828.10,N,01353.52,E,0.0,0.0,311315,,,A"),
        sentence("PGID"),
        b"QZE,868994033976700,35,28062020,113553,bad",
        "$GPRMC,\u00e9*00".encode(),
    ],
)
def test_malformed_lines_raise_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        CODEC.decode(frame, device_id="gps")


def test_unknown_sentences_give_nothing() -> None:
    assert CODEC.decode(sentence("GPGSV,3,1,11,03,03,111,00"), device_id="gps").records == ()


def test_no_commands() -> None:
    with pytest.raises(ValueError):
        CODEC.encode_command("gps", "lock")


def test_round_trip_from_device_builders() -> None:
    when = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
    stream = build_identity("355797031609284") + build_rmc(-33.865143, 151.2099, 42.0, 359.9, when)
    identity_line, rmc_line = CODEC.framer().feed(stream)
    (login,) = CODEC.decode(identity_line).records
    (fix,) = CODEC.decode(rmc_line, device_id=login.device_id).records
    assert login.kind is RecordKind.LOGIN and login.device_id == "355797031609284"
    assert fix.fix_time == when and fix.valid_fix
    assert fix.latitude == pytest.approx(-33.865143, abs=1e-6)
    assert fix.longitude == pytest.approx(151.2099, abs=1e-6)
    assert fix.speed_kmh == pytest.approx(42.0, abs=0.002)
    assert fix.course_deg == pytest.approx(359.9)


def test_checksum_helper_matches_a_known_sentence() -> None:
    assert checksum("GNGLL,4650.5156500,N,01246.1059604,E,164414.90,A,A") == "77"


def test_build_identity_rejects_odd_ids() -> None:
    with pytest.raises(ValueError):
        build_identity("a,b")


def test_framer_splits_lines_and_cuts_noise_before_dollar() -> None:
    framer = CODEC.framer()
    rmc = sentence("GPRMC,120000.00,A,4828.10,N,01353.52,E,0.0,0.0,180915,,,A").strip()
    out = framer.feed(b"\r\n\x07\x08!!" + rmc + b"\r\n358244017671308" + rmc + b"\n" + rmc[:9])
    assert out == [rmc, b"358244017671308" + rmc]
    assert framer.feed(rmc[9:] + b"\n") == [rmc]


def test_framer_rejects_endless_line() -> None:
    with pytest.raises(FrameError):
        CODEC.framer(max_frame=82).feed(b"$GPRMC," + b"1" * 100)
