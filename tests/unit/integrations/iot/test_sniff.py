"""recognise(): what the first bytes of a connection look like, from byte signatures.

Real frames come from the corpus (tests/data/iot-frames, Traccar's decoder tests) and,
for JT/T 808, from Traccar's HuabaoProtocolDecoderTest (source named below). Protocols
with no public frames (Segway, OKAI) and non-device traffic use HAND-WRITTEN frames,
marked so. Random bytes must give None: a false "looks like X" would cut a working device.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.integrations.iot.misdirected import FirstBytes, examine, hint
from app.integrations.iot.sniff import display_name, recognise, same_family
from tests.helpers.iot_corpus import device_frames

GT06_LOGIN = bytes.fromhex("78780D01086471700328358100093F040D0A")  # gt06.jsonl line 2
TELTONIKA_LOGIN = b"\x00\x0f356307042441013"  # the IMEI handshake of Teltonika's docs

# How many of each corpus' frames a signature must claim. The rest stay unclaimed on
# purpose, the safe side (the connection keeps today's behaviour): proprietary or bare
# NMEA lines and id-prefixed sentences (too little structure to tell from other text),
# GT06 frames with a zero length byte or a wrong length, Teltonika UDP packets and
# mid-session frames, JT/T 808 messages a device never sends first. Measured on the
# corpus as it stands; a signature change that claims fewer fails here.
MIN_CLAIMED = {
    "gt06": 0.90,
    "teltonika": 0.90,
    "gl200": 0.98,
    "omni": 1.0,
    "nmea": 0.50,
    "jt808": 0.65,
    "segway": 1.0,
    "okai": 1.0,
}

# JT/T 808, copied as data from traccar/traccar@014cf82a9e63:
# src/test/java/org/traccar/protocol/HuabaoProtocolDecoderTest.java#testDecode
JT808_REAL = [
    "7E0102000E013511221122000661757468656E7469636174696F6E3F7E",  # authentication
    "7e0100002d0141305678720024002c012f373031313142534a2d41362d424400000000000000000000003035"
    "363738373201d4c14238383838386d7e",  # registration
    "7e0002000004304832546500b7ca7e",  # heartbeat
    "7E02000053200002604323004800000000000C00000158B91406CB7007006B00000000220512101138010400"
    "000F2803020000250400000000300114310100E30100D50E0100026043232795980277530030E50400000000"
    "E7020FC8E8020E83AB7E",  # location
]

# HAND-WRITTEN (no public frames): shaped as the protocol documents say, not captured.
HAND_WRITTEN = {
    "segway": [b"*HBCR,NB,867584030387299,Q0,412,80,28#\n"],
    "okai": [
        b"+RESP:GTCFU,OK0101,867584030387299,ES400A,VIN1,QR1,E01,0,0,0,0,13.4,52.5,"
        b"20240101120000,0262,0001,1,2,20,4G,1,1,36.5,4.0,90,1,1,0,,80,20240101120001,0001$",
        b"+BUFF:GTMDR,OK0101,867584030387299,ES400A,,,1$",
    ],
    "tls": [bytes.fromhex("16030100f8010000f40303") + bytes(32)],
    "http": [b"GET / HTTP/1.1\r\nHost: fleet\r\n\r\n", b"POST /api HTTP/1.1\r\n"],
    "mqtt": [
        b"\x10\x1a\x00\x04MQTT\x04\x02\x00\x3c\x00\x0e867584030387299",  # MQTT 3.1.1
        b"\x10\x1c\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x0e867584030387299",  # MQTT 3.1
    ],
}


@pytest.mark.parametrize("protocol", sorted(MIN_CLAIMED))
def test_corpus_frames_are_recognised_as_their_protocol_never_as_another(protocol):
    frames = device_frames(protocol)
    assert frames
    seen = [(frame.test_id, recognise(frame.data)) for frame in frames]
    wrong = [(i, r) for i, r in seen if r is not None and not same_family(r, protocol)]
    assert wrong == []  # a false "looks like X" would cut a working device
    claimed = sum(r is not None for _, r in seen)
    assert claimed / len(frames) >= MIN_CLAIMED[protocol]


def test_nmea_corpus_claims_the_talker_sentences():
    claimed = [f.data[:6] for f in device_frames("nmea") if recognise(f.data) == "nmea"]
    assert len(claimed) >= 20 and all(c[:3] in (b"$GP", b"$GN") for c in claimed)


@pytest.mark.parametrize("frame", JT808_REAL, ids=["auth", "register", "heartbeat", "location"])
def test_jt808_real_frames(frame):
    assert recognise(bytes.fromhex(frame)) == "jt808"


def test_jt808_needs_a_known_first_message_and_its_closing_flag():
    auth = bytes.fromhex(JT808_REAL[0])
    assert recognise(auth[:-1]) is None  # no closing flag yet
    assert recognise(b"\x7e\x09\x00" + auth[3:]) is None  # not a first message


@pytest.mark.parametrize(
    ("protocol", "frame"), [(p, f) for p, frames in HAND_WRITTEN.items() for f in frames]
)
def test_hand_written_frames(protocol, frame):
    assert recognise(frame) == protocol


def test_queclink_frames_without_an_okai_only_report_are_queclink_or_okai():
    assert recognise(b"+RESP:GTFRI,OK0101,867584030387299,,0,0,1,1,0.0,0,0,13.4,52.5,x$") == (
        "gl200"
    )
    assert display_name("gl200") == "Queclink/OKAI"
    assert same_family("okai", "gl200") and same_family("gl200", "okai")
    assert not same_family("gt06", "teltonika") and not same_family("segway", "omni")


def test_old_queclink_frames_with_leading_nul_bytes():
    assert recognise(b"\x00\x00+RESP:GTHBD,060100,135790246811220,,20100214093254,11F0$") == (
        "gl200"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x78\x78\x0d\x01",  # a GT06 start, not complete yet
        b"\x00\x0f35630704",  # a Teltonika login, not complete yet
        b"\x00\x0f35630704244101X",
        b"\x00\x00\x00\x00\x00\x00\x00\x10\x99",  # Teltonika header, unknown codec
        b"+RESP:gtfri,",
        b"*SCOR",  # not a frame start of any port yet
        b"hello\r\n",
        b"\x16\x03\x01\x00\xf8\x02",  # TLS ServerHello is not a client
        b"\x10\x1a\x00\x04MQTX",
        b"GETX /",
    ],
)
def test_near_misses_give_none(data):
    assert recognise(data) is None


@given(st.binary(max_size=512))
@settings(max_examples=500, deadline=None, database=None)
def test_random_bytes_are_not_recognised(data):
    assert recognise(data) is None


def test_examine_names_a_gt06_login_on_the_teltonika_port_with_its_imei():
    first = FirstBytes()
    first.add(GT06_LOGIN)
    found = examine(first, "teltonika", {"teltonika": 5027, "gt06": 5023})
    assert found is not None and found.is_device
    assert (found.protocol, found.device_id) == ("gt06", "864717003283581")
    assert found.hint == (
        "looks like GT06 on the Teltonika port (5027): "
        "set the device to port 5023 or register it with protocol gt06"
    )
    assert examine(first, "teltonika", {}) is None  # the same bytes are not examined twice


def test_examine_leaves_a_device_on_its_own_port_alone():
    first = FirstBytes()
    first.add(TELTONIKA_LOGIN)
    assert examine(first, "teltonika", {"teltonika": 5027}) is None


def test_examine_keeps_only_the_first_bytes_and_counts_the_rest():
    first = FirstBytes()
    first.add(b"x" * 400)
    first.add(b"y" * 400)
    assert len(first.head) == 512 and first.received == 800
    assert first.skipped(799) and not first.skipped(800)


def test_hints_for_a_protocol_without_a_port_and_for_non_device_traffic():
    assert hint("jt808", "gt06", {"gt06": 5023}) == (
        "looks like JT/T 808 on the GT06 port (5023): no port of this gateway speaks jt808 "
        "(add it to the [iot] ports setting)"
    )
    assert hint("okai", "teltonika", {"teltonika": 5027, "gl200": 5004}).endswith(
        "set the device to port 5004 or register it with protocol okai"
    )
    assert hint("http", "omni", {"omni": 5180}) == (
        "looks like HTTP traffic, not a device, on the Omni port (5180)"
    )
    first = FirstBytes()
    first.add(HAND_WRITTEN["tls"][0])
    found = examine(first, "gt06", {"gt06": 5023})
    assert found is not None and not found.is_device and found.device_id is None
