"""Bluetooth beacons and tags that FMB/FMC trackers report in Codec 8E variable-length IO.

IO 385 is the beacon list (iBeacon or Eddystone entries, each with an RSSI and optional
battery and temperature); IO 548 (and 10829/10831 on newer firmware) is the BLE sensor
list, one type-length-value block per tag. The attribute names and scales are Traccar's
(``beacon<N>Uuid``, ``tag<N>Voltage`` ...), read at the positions its
``TeltonikaProtocolDecoder`` reads them, so a Traccar user finds the same keys. A blob that
does not parse to its end gives no named fields (its ``io<ID>`` hex is kept regardless).
"""

from __future__ import annotations

import logging

from app.integrations.iot.codecs.teltonika_reader import Reader
from app.integrations.iot.records import FrameError

logger = logging.getLogger(__name__)

IO_BEACONS = 385
IO_BLE_TAGS = frozenset({548, 10829, 10831})
BEACON_IO = frozenset({IO_BEACONS} | IO_BLE_TAGS)

_IBEACON_FLAGS = 0xF0  # any of the high nibble: iBeacon (UUID, major, minor); else Eddystone
_HAS_BATTERY = 0x02
_HAS_TEMPERATURE = 0x04
_TAG_LOW_BATTERY = 0x40  # in the tag's data flag byte
_TAG_HAS_VOLTAGE = 0x80


def beacon_attributes(io_id: int, data: bytes) -> dict[str, object]:
    """Traccar's named attributes for beacon IO ``io_id``; empty if ``data`` is malformed."""
    reader = Reader(data)
    try:
        reader.uint(1)  # data part / header byte
        if io_id == IO_BEACONS:
            return _beacons(reader)
        return _tags(reader)
    except FrameError as error:
        logger.debug("BLE IO %d not read: %s", io_id, error)
        return {}


def _beacons(r: Reader) -> dict[str, object]:
    found: dict[str, object] = {}
    index = 1
    while r.pos < len(r.data):
        key = f"beacon{index}"
        flags = r.uint(1)
        if flags & _IBEACON_FLAGS:
            found[f"{key}Uuid"] = r.take(16).hex()
            found[f"{key}Major"] = r.uint(2)
            found[f"{key}Minor"] = r.uint(2)
        else:
            found[f"{key}Namespace"] = r.take(10).hex()
            found[f"{key}Instance"] = r.take(6).hex()
        found[f"{key}Rssi"] = r.sint(1)
        if flags & _HAS_BATTERY:
            found[f"{key}Battery"] = r.uint(2) * 0.01
        if flags & _HAS_TEMPERATURE:
            found[f"{key}Temp"] = r.uint(2)
        index += 1
    return found


def _tags(r: Reader) -> dict[str, object]:
    found: dict[str, object] = {}
    index = 1
    while r.pos < len(r.data):
        block = Reader(r.take(r.uint(1)))
        key = f"tag{index}"
        while block.pos < len(block.data):
            parameter = block.uint(1)
            value = Reader(block.take(block.uint(1)))
            if parameter == 0:
                found[f"{key}Rssi"] = value.sint(1)
            elif parameter == 1:
                found[f"{key}Id"] = value.data.hex()
            elif parameter == 2:
                flags = value.uint(1)
                if flags & _TAG_LOW_BATTERY:
                    found[f"{key}LowBattery"] = True
                if flags & _TAG_HAS_VOLTAGE:
                    found[f"{key}Voltage"] = value.uint(1) * 10 + 2000
            elif parameter == 13:
                found[f"{key}LowBattery"] = value.uint(1)
            elif parameter == 14:
                found[f"{key}Battery"] = value.uint(2)
        index += 1
    return found
