"""Device-side Teltonika frames, for simulators and tests: what a TST100 or FMB sends.

The server side never needs these; they exist so a device simulator can speak real
Codec 7/8/8E bytes and every test can round-trip through the real decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from app.integrations.iot.codecs.teltonika import RESPONSE_TYPE, encode_codec12, wrap_tcp
from app.integrations.iot.codecs.teltonika_avl import (
    CODEC_8,
    CODEC_8E,
    IO_BATTERY_PCT,
    IO_CHARGING,
    IO_LOCK,
    IO_ODOMETER_M,
)
from app.integrations.iot.codecs.teltonika_gh3000 import CODEC_GH3000, GH3000_EPOCH
from app.integrations.iot.codecs.teltonika_gh3000 import IO_BATTERY_PCT as GH3000_BATTERY


class AvlSample(NamedTuple):
    """One reading; ``None`` readings are left out of the IO element."""

    when: datetime
    lat: float
    lon: float
    speed_kmh: float
    course: float
    battery_pct: float | None = None
    locked: bool | None = None
    odometer_km: float | None = None
    charging: bool | None = None


def build_imei_handshake(imei: str) -> bytes:
    """``00 0F`` + the IMEI in ASCII: the first thing a device sends on a TCP connection."""
    if not imei.isdigit() or not 10 <= len(imei) <= 17:
        raise ValueError(f"IMEI must be 10..17 digits, got {imei!r}")
    return len(imei).to_bytes(2, "big") + imei.encode("ascii")


def build_avl_packet(
    records: Iterable[tuple], codec_id: int = CODEC_8E, *, satellites: int = 8
) -> bytes:
    """An AVL data packet from ``AvlSample``-shaped tuples.

    Codec 8E is the default because the TST100 lock state is IO 344, which does not fit
    Codec 8's one-byte IO ids; Codec 8 works for samples with ``locked=None``.
    """
    if codec_id not in (CODEC_8, CODEC_8E):
        raise ValueError(f"can build Codec 8 (0x08) or 8E (0x8e), not {codec_id:#04x}")
    samples = [AvlSample(*record) for record in records]
    if not 1 <= len(samples) <= 255:
        raise ValueError("an AVL packet carries 1..255 records")
    body = bytes([codec_id, len(samples)])
    body += b"".join(_record(sample, codec_id, satellites) for sample in samples)
    return wrap_tcp(body + bytes([len(samples)]))


def build_gh3000_packet(
    records: Iterable[tuple], *, satellites: int = 8, priority: int = 1
) -> bytes:
    """A Codec 7 packet as a GH3000 sends it, from ``AvlSample``-shaped tuples.

    Each record has a location block (coordinates, course, speed, satellites) and, when
    the sample has one, the battery % as 1-byte IO 1; lock, odometer and charging have no
    GH3000 IO and are refused. ``when`` is sent in whole seconds.
    """
    samples = [AvlSample(*record) for record in records]
    if not 1 <= len(samples) <= 255:
        raise ValueError("an AVL packet carries 1..255 records")
    body = bytes([CODEC_GH3000, len(samples)])
    body += b"".join(_gh3000_record(sample, satellites, priority) for sample in samples)
    return wrap_tcp(body + bytes([len(samples)]))


def _gh3000_record(sample: AvlSample, satellites: int, priority: int) -> bytes:
    if (sample.locked, sample.odometer_km, sample.charging) != (None, None, None):
        raise ValueError("a GH3000 record carries no lock, odometer or charging state")
    seconds = round(sample.when.timestamp()) - GH3000_EPOCH
    if not 0 <= seconds < 1 << 30:
        raise ValueError("Codec 7 time runs from 2007 to 2041")
    location = (
        bytes([0b0001_1101])  # coordinates, course, speed, satellites
        + struct.pack(">ff", sample.lat, sample.lon)
        + bytes([round(sample.course % 360 * 256 / 360) % 256, round(sample.speed_kmh)])
        + bytes([satellites])
    )
    global_mask, io = 0b0001, b""  # a location block
    if sample.battery_pct is not None:  # and a 1-byte IO group
        global_mask, io = 0b0011, bytes([1, GH3000_BATTERY, round(sample.battery_pct)])
    time_word = (priority << 30 | seconds).to_bytes(4, "big")
    return time_word + bytes([global_mask]) + location + io


def build_command_response(text: str) -> bytes:
    """The Codec 12 reply (type 6) a device sends after running a command."""
    return encode_codec12(text, message_type=RESPONSE_TYPE)


def _record(sample: AvlSample, codec_id: int, satellites: int) -> bytes:
    millis = round(sample.when.timestamp() * 1000)
    gps = (
        millis.to_bytes(8, "big")
        + b"\x00"  # priority: low
        + round(sample.lon * 1e7).to_bytes(4, "big", signed=True)
        + round(sample.lat * 1e7).to_bytes(4, "big", signed=True)
        + (0).to_bytes(2, "big")  # altitude
        + round(sample.course % 360).to_bytes(2, "big")
        + bytes([satellites])
        + round(sample.speed_kmh).to_bytes(2, "big")
    )
    one_byte: list[tuple[int, int]] = []
    if sample.battery_pct is not None:
        one_byte.append((IO_BATTERY_PCT, round(sample.battery_pct)))
    if sample.locked is not None:
        if codec_id == CODEC_8:
            raise ValueError("lock state is IO 344, which needs Codec 8E")
        one_byte.append((IO_LOCK, int(sample.locked)))
    if sample.charging is not None:
        if codec_id == CODEC_8:
            raise ValueError("charging is IO 347, which needs Codec 8E")
        one_byte.append((IO_CHARGING, int(sample.charging)))
    four_byte: list[tuple[int, int]] = []
    if sample.odometer_km is not None:
        four_byte.append((IO_ODOMETER_M, round(sample.odometer_km * 1000)))
    width = 2 if codec_id == CODEC_8E else 1
    groups = [(one_byte, 1), ([], 2), (four_byte, 4), ([], 8)]
    io = (0).to_bytes(width, "big")  # event IO id: periodic record
    io += (len(one_byte) + len(four_byte)).to_bytes(width, "big")
    for items, size in groups:
        io += len(items).to_bytes(width, "big")
        for io_id, value in items:
            io += io_id.to_bytes(width, "big") + value.to_bytes(size, "big")
    if codec_id == CODEC_8E:
        io += (0).to_bytes(2, "big")  # no variable-length IO
    return gps + io
