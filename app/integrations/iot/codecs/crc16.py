"""The two 16-bit CRCs our binary protocols use, written out from their parameters.

There is no CRC library among our dependencies and both algorithms are a few lines, so
they live here, each named by its catalogue name so they can be checked against any CRC
reference. Both are the reflected (LSB-first) form. A 256-entry table per polynomial,
built at import from the bitwise definition, makes them byte-at-a-time: Teltonika packets
run to a kilobyte and the bitwise loop was the decoder's main cost.

CRC-ITU runs three times per GT06 frame (framer, decoder, ACK) on the gateway's hot path,
so it goes through the standard library's C ``binascii.crc_hqx`` instead: that is the
same polynomial unreflected, and a reflected CRC is the unreflected one over bit-reversed
bytes, bit-reversed (the 0xFFFF init and final XOR are symmetric under reversal).
"""

from __future__ import annotations

import binascii

_POLY_A001 = 0xA001  # 0x8005 reflected


def _table(poly: int) -> tuple[int, ...]:
    """CRC of each single byte value, shifting one bit at a time (the definition)."""
    entries = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        entries.append(crc)
    return tuple(entries)


_TABLE_A001 = _table(_POLY_A001)


def _reflected_crc16(data: bytes, table: tuple[int, ...], crc: int) -> int:
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc16_ibm(data: bytes) -> int:
    """CRC-16/ARC (a.k.a. CRC-16/IBM): poly 0x8005 reflected, init 0, no final XOR.

    Teltonika puts it over codec id … second record count. Check value for
    ``b"123456789"`` is 0xBB3D.
    """
    return _reflected_crc16(data, _TABLE_A001, 0x0000)


#: Each byte value with its 8 bits in reverse order (a ``bytes.translate`` table).
_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def crc_itu(data: bytes | bytearray) -> int:
    """CRC-16/X-25 (what Concox calls CRC-ITU): poly 0x1021 reflected, init/xorout 0xFFFF.

    GT06 puts it over length … serial number. Check value for ``b"123456789"`` is 0x906E.
    """
    crc = binascii.crc_hqx(data.translate(_BIT_REVERSED), 0xFFFF)
    return (_BIT_REVERSED[crc & 0xFF] << 8 | _BIT_REVERSED[crc >> 8]) ^ 0xFFFF
