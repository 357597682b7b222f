"""Device ids read off the wire: one validator, applied by every codec.

A garbage id (NUL, control characters, spaces, commas, 33+ characters, or a non-IMEI
where the protocol promises one) must be a FrameError, never a record, so it cannot reach
the unknown-devices inbox or the database. The corpus itself is covered by the per-codec
corpus tests, which still pass unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.integrations.iot.codecs import get_codec
from app.integrations.iot.codecs.gl200 import build_position_frame
from app.integrations.iot.codecs.gt06_build import build_login
from app.integrations.iot.codecs.nmea import sentence
from app.integrations.iot.codecs.omni import build_frame
from app.integrations.iot.codecs.teltonika_build import build_imei_handshake
from app.integrations.iot.device_ids import (
    MAX_DEVICE_ID,
    check_device_id,
    check_imei,
    is_plausible_device_id,
)
from app.integrations.iot.records import FrameError
from tests.helpers.iot_corpus import device_frames, sessions
from tests.unit.integrations.iot.binary_corpus import decoder_lines
from tests.unit.integrations.iot.test_frames_gl200_binary import INFO, PRO, crc16_ccitt

IMEI = "867584030387299"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GL200_FRAME = build_position_frame(IMEI, 52.1, 4.3, 10.0, 90.0, 80.0, True, WHEN)
BAD_IDS = ["86758403038729\x00", "8675840 0387299", "86758403,387299", "x" * 33, "", "ü"]
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- the validator ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "X-1_/.:;", "0x0103846677F21422", "~" * MAX_DEVICE_ID])
def test_plausible_ids_pass(value: str) -> None:
    assert is_plausible_device_id(value) and check_device_id(value, "p") == value


@pytest.mark.parametrize("value", [*BAD_IDS, "\x7f", "a\tb", "a\nb", "é"])
def test_implausible_ids_are_frame_errors(value: str) -> None:
    assert not is_plausible_device_id(value)
    with pytest.raises(FrameError, match=r"^p "):
        check_device_id(value, "p")


def test_error_message_is_bounded_and_escaped() -> None:
    with pytest.raises(FrameError) as caught:
        check_device_id("\x00" * 5000, "omni")
    message = str(caught.value)
    assert len(message) < 300 and "\\x00" in message and "\x00" not in message


@pytest.mark.parametrize("value", ["12345678901234", "1234567890123456", "12345678901234A"])
def test_imei_is_exactly_15_ascii_digits(value: str) -> None:
    with pytest.raises(FrameError, match="15-digit IMEI"):
        check_imei(value, "gt06")


def test_unicode_digits_are_not_an_imei() -> None:
    with pytest.raises(FrameError):
        check_imei("١٢٣٤٥٦٧٨٩٠١٢٣٤٥", "gt06")  # Arabic-Indic digits: str.isdigit() says yes


def test_meid_only_where_allowed() -> None:
    assert check_imei("A1000012345678", "gl200", allow_meid=True) == "A1000012345678"
    with pytest.raises(FrameError):
        check_imei("A1000012345678", "gl200")


# --- per codec: a frame with a bad id is a FrameError ------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
def test_omni_bad_imei(bad: str) -> None:
    frame = build_frame(IMEI, "H0", 0, 412, 28, 80).replace(IMEI.encode(), bad.encode("latin-1"))
    with pytest.raises(FrameError, match=r"(?i)omni"):
        get_codec("omni").decode(frame)


@pytest.mark.parametrize("bad", [*BAD_IDS, "123456789012345678"])
def test_queclink_text_bad_imei(bad: str) -> None:
    frame = GL200_FRAME.replace(IMEI.encode(), bad.encode("latin-1"))
    with pytest.raises(FrameError, match="gl200"):
        get_codec("gl200").decode(frame, strict=False)


def test_queclink_binary_device_name_with_control_character() -> None:
    assert INFO[9:17] == b"gb100\x00\x00\x00"  # mask bit 6: a name instead of an IMEI
    frame = bytearray(INFO)
    frame[9:17] = b"gb\x01100\x00\x00"
    frame[-4:-2] = crc16_ccitt(bytes(frame[4:-4])).to_bytes(2, "big")
    with pytest.raises(FrameError, match="gl200 device id"):
        get_codec("gl200").decode(bytes(frame))


def test_queclink_pro_bad_imei() -> None:
    from app.integrations.iot.codecs.gl200_pro import _crc8

    frame = bytearray(PRO)
    frame[5:13] = bytes.fromhex("0A6513405094722F")  # two nibbles over 9
    frame[-2] = _crc8(bytes(frame[:-2]))
    with pytest.raises(FrameError, match="15-digit IMEI"):
        get_codec("gl200").decode(bytes(frame))


@pytest.mark.parametrize("digits", ["1234567890", "1234567890123456", "12345678901234567"])
def test_teltonika_handshake_must_be_15_digits(digits: str) -> None:
    codec = get_codec("teltonika")
    frame = build_imei_handshake(digits)
    assert codec.framer().feed(frame) == [frame]  # still cut whole, so the stream stays in step
    with pytest.raises(FrameError, match="15-digit IMEI"):
        codec.decode(frame)


@pytest.mark.parametrize("bad", [b"35745407271397\x00", b"3574540727 3975", b"35745407271397A"])
def test_teltonika_handshake_with_non_digits(bad: bytes) -> None:
    with pytest.raises(FrameError):
        get_codec("teltonika").decode(b"\x00\x0f" + bad)


def _udp_with_imei(imei: bytes) -> bytes:
    line = next(x for x in decoder_lines("teltonika") if x["source"].endswith("Connectionless"))
    frame = bytes.fromhex(line["frame"])
    size = int.from_bytes(frame[6:8], "big")
    rest = frame[2:6] + len(imei).to_bytes(2, "big") + imei + frame[8 + size :]
    return len(rest).to_bytes(2, "big") + rest


def test_teltonika_udp_control_case_decodes() -> None:
    assert get_codec("teltonika").decode(_udp_with_imei(b"357454072713975")).records


@pytest.mark.parametrize("bad", [b"35745407271397\x00", b"3574540727139750000", b"1" * 40])
def test_teltonika_udp_bad_imei(bad: bytes) -> None:
    with pytest.raises(FrameError):
        get_codec("teltonika").decode(_udp_with_imei(bad))


def test_gt06_login_with_non_bcd_imei() -> None:
    frame = bytearray(build_login(IMEI, 1))
    frame[4:12] = bytes.fromhex("08675840303872AF")
    with pytest.raises(FrameError, match="gt06 device id"):
        get_codec("gt06").decode(bytes(frame), strict=False)  # CRC no longer fits: lenient


@pytest.mark.parametrize(
    "frame",
    [
        sentence("PGID,8675840 0387299"),
        sentence("PGID," + "1" * 33),
        sentence("PGID,abc\x01def"),
        b"$IMEI=12 34",
        b"IMEI \x0012345",
        b"12\x0734$" + sentence("GPRMC,120000,A,5200.000,N,00400.000,E,0,0,010524,,")[1:],
    ],
)
def test_nmea_bad_ids(frame: bytes) -> None:
    with pytest.raises(FrameError, match="nmea"):
        get_codec("nmea").decode(frame, strict=False)


# --- property: whatever a decoder returns as an id passes the validator -------------------

PROTOCOLS = ("omni", "gl200", "nmea", "teltonika", "gt06")
SAMPLES = {
    p: [f.data for f in device_frames(p)]
    + ([PRO, INFO] if p == "gl200" else [])
    + ([bytes.fromhex(x["frame"]) for x in decoder_lines(p)] if p in ("teltonika", "gt06") else [])
    for p in PROTOCOLS
}


def _ids(protocol: str, frame: bytes, device_id: str | None = None) -> list[str]:
    codec = get_codec(protocol)
    ids = []
    for strict in (True, False):
        try:
            result = codec.decode(frame, device_id=device_id, strict=strict)
        except FrameError:
            continue
        ids += [r.device_id for r in result.records if r.device_id is not None]
    return ids


@st.composite
def id_spliced(draw, protocol: str) -> bytes:
    """A corpus frame with a random byte run spliced in, often where the id sits."""
    frame = bytearray(draw(st.sampled_from(SAMPLES[protocol])))
    at = draw(st.integers(0, min(len(frame), 40)))
    cut = draw(st.integers(0, 20))
    frame[at : at + cut] = draw(st.binary(max_size=40))
    return bytes(frame)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FUZZ
@given(data=st.data())
def test_every_returned_id_is_plausible(protocol: str, data: st.DataObject) -> None:
    frame = data.draw(id_spliced(protocol))
    for device_id in _ids(protocol, frame, device_id=IMEI):
        assert is_plausible_device_id(device_id), (frame, device_id)


@FUZZ
@given(ident=st.text(max_size=40))
def test_text_protocol_ids_from_arbitrary_text(ident: str) -> None:
    raw = ident.encode("utf-8", "surrogatepass")
    frames = [
        ("omni", build_frame(IMEI, "H0", 0, 412, 28, 80).replace(IMEI.encode(), raw)),
        ("gl200", GL200_FRAME.replace(IMEI.encode(), raw)),
        ("nmea", b"$PGID," + raw + b"*00"),
        ("nmea", b"$IMEI=" + raw),
        ("teltonika", len(raw).to_bytes(2, "big") + raw),
    ]
    for protocol, frame in frames:
        for device_id in _ids(protocol, frame):
            assert is_plausible_device_id(device_id), (protocol, frame, device_id)


def test_corpus_ids_are_all_plausible() -> None:
    """Replaying every corpus session, each id the decoders return passes the validator."""
    seen = 0
    for protocol in PROTOCOLS:
        for group in sessions(device_frames(protocol)):
            codec, device_id = get_codec(protocol), None
            for frame in group:
                try:
                    result = codec.decode(frame.data, device_id=device_id, strict=False)
                except FrameError:
                    continue
                for record in result.records:
                    if record.device_id is not None:
                        assert is_plausible_device_id(record.device_id), record.device_id
                        seen += 1
                    if record.kind.value == "login":
                        device_id = record.device_id
    assert seen > 300


@pytest.mark.parametrize(
    ("protocol", "frame"),
    [
        ("omni", build_frame(IMEI, "H0", 0, 412, 28, 80)),
        ("gl200", GL200_FRAME),
        ("nmea", sentence(f"PGID,{IMEI}")),
        ("teltonika", build_imei_handshake(IMEI)),
        ("gt06", build_login(IMEI, 1)),
    ],
)
def test_control_frames_with_a_real_imei_still_decode(protocol: str, frame: bytes) -> None:
    assert _ids(protocol, frame) == [IMEI, IMEI]  # strict and lenient
