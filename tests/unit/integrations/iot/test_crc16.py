"""The CRCs against their catalogue check values and against frames captured from devices."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.integrations.iot.codecs.crc16 import crc16_ibm, crc_itu


@pytest.mark.parametrize(
    ("function", "check"), [(crc16_ibm, 0xBB3D), (crc_itu, 0x906E)], ids=["ibm", "itu"]
)
def test_catalogue_check_value(function, check: int) -> None:
    assert function(b"123456789") == check


def test_empty_input_gives_the_initial_value_after_xorout() -> None:
    assert crc16_ibm(b"") == 0x0000
    assert crc_itu(b"") == 0x0000  # init 0xFFFF, xorout 0xFFFF


def test_teltonika_codec12_vector() -> None:
    """Traccar's encoder test frame for ``setdigout 11`` ends in CRC 0xBED5."""
    frame = bytes.fromhex("00000000000000140c01050000000c7365746469676f7574203131010000bed5")
    assert crc16_ibm(frame[8:-4]) == 0xBED5


def test_gt06_login_vector() -> None:
    """Reference section 1.6: login ``78780D01…0009 3F04 0D0A`` carries CRC-ITU 0x3F04."""
    frame = bytes.fromhex("78780D01086471700328358100093F040D0A")
    assert crc_itu(frame[2:-4]) == 0x3F04


def _x25_bitwise(data: bytes) -> int:
    """CRC-16/X-25 straight from its definition, one bit at a time (the oracle)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


@given(st.binary(max_size=600))
def test_crc_itu_through_binascii_equals_the_bitwise_definition(data: bytes) -> None:
    assert crc_itu(data) == _x25_bitwise(data)
    assert crc_itu(bytearray(data)) == _x25_bitwise(data)
