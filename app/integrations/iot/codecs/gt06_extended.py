"""GT06 message contents of long (``7979``) frames: text, info, serial, modular and AZ735.

Read as Traccar's ``decodeExtended`` reads them; attribute names are Traccar's. Long-frame
types not listed here (0x8C OBD text, 0x41 media, 0x36 photo data, 0xFD, 0x84…) give OTHER
on purpose, as Traccar gives nothing for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.integrations.iot.codecs.gt06_messages import (
    MSG_INFO,
    MSG_SERIAL,
    MSG_STRING_INFO,
    Parsed,
    Reader,
    Short,
    parse_content,
    read_gps,
    read_string,
)
from app.integrations.iot.records import RecordKind

MSG_AZ735_GPS = 0x32
MSG_AZ735_ALARM = 0x33
MSG_GPS_MODULAR = 0x70
EXTENDED_DATA_TYPES = frozenset(
    {MSG_STRING_INFO, MSG_INFO, MSG_SERIAL, MSG_AZ735_GPS, MSG_AZ735_ALARM, MSG_GPS_MODULAR}
)
_AZ735_STATUS_ALARMS = {0xA2: "lowBattery", 0xA3: "lowBattery", 0xA4: "general", 0xA5: "door"}
_MODULE_EVENT_ALARMS = {0x11: "lowBattery", 0x12: "lowPower", 0x13: "powerCut", 0x14: "removing"}


def parse_extended(msg_type: int, content: bytes) -> Parsed:
    """Read one long-frame message; unknown types give OTHER with the bytes kept."""
    parsed = Parsed()
    r = Reader(content)
    try:  # a clone that stops early keeps what was read
        if msg_type == MSG_STRING_INFO:
            read_string(msg_type, content, parsed)
        elif msg_type == MSG_INFO and content:
            _read_info(r, parsed)
        elif msg_type == MSG_SERIAL and content:
            _read_serial(content[1:], parsed)
        elif msg_type in (MSG_AZ735_GPS, MSG_AZ735_ALARM):
            _read_az735(msg_type, r, parsed)
        elif msg_type == MSG_GPS_MODULAR:
            _read_modular(r, parsed)
        else:  # some firmware sends short-frame types in long frames (0x38 GPS)
            return parse_content(msg_type, content, 0)
    except Short:
        pass
    if parsed.kind is RecordKind.OTHER:
        parsed.attributes.setdefault("content", content.hex())
    parsed.attributes["type"] = msg_type
    return parsed


def _read_info(r: Reader, parsed: Parsed) -> None:
    """0x94 information packets; the sub-type says what follows."""
    sub_type = r.uint(1)
    data = r.data[1:]
    parsed.status()
    parsed.attributes["infoType"] = sub_type
    if sub_type == 0x00:
        parsed.attributes["adc1"] = r.uint(2) * 0.01
    elif sub_type == 0x05:
        if r.left >= 7:  # a device time comes first on newer firmware
            r.take(6)
        flags = r.uint(1)
        parsed.attributes["door"] = bool(flags & 0x01)
        parsed.attributes["io1"] = bool(flags & 0x04)
    elif sub_type == 0x0A and len(data) >= 26:
        parsed.attributes["iccid"] = data[16:26].hex().replace("f", "")
    elif sub_type == 0x0B:
        if len(data) == 2:  # external power on the firmware of the corpus' 940b frame
            parsed.attributes["power"] = r.uint(2) * 0.01
        else:
            parsed.attributes["networkTechnology"] = "4G" if r.uint(1) > 0 else "2G"
    elif sub_type == 0x1B:
        _read_rfid(data, parsed)
    elif sub_type == 0x1E and len(data) >= 8:
        parsed.attributes["temp1"] = r.sint(4) / 10
        parsed.attributes["humidity"] = r.uint(4) / 10
    else:
        parsed.attributes["content"] = data.hex()


def _read_rfid(data: bytes, parsed: Parsed) -> None:
    """0x94/0x1B: an ASCII reader line is Traccar's ``serial`` (distinct from the packet's
    ``index``); a binary one holds the 4-byte card id between header/type and checksum."""
    if data[:1].isalpha():
        parsed.attributes["serial"] = data.decode("ascii", errors="replace").strip()
    elif len(data) >= 6:
        parsed.attributes["driverUniqueId"] = data[2:6].hex()


def _read_serial(data: bytes, parsed: Parsed) -> None:
    """0x9B serial pass-through: printable text or hex is the ``result`` (Traccar 2024); an
    STX/ETX-framed RFID line ``<02>id cc<03>`` also gives the card as ``driverUniqueId``."""
    stripped = data.removesuffix(b"\r\n")
    printable = bool(stripped) and all(0x20 <= byte < 0x7F for byte in stripped)
    parsed.kind = RecordKind.COMMAND_RESULT
    parsed.fields["command_result"] = stripped.decode("ascii") if printable else data.hex()
    if len(data) > 4 and data[0] == 0x02 and data[-1] == 0x03:
        card = data[1:-3]
        if card.isalnum():
            parsed.attributes["driverUniqueId"] = card.decode("ascii")


def _read_az735(msg_type: int, r: Reader, parsed: Parsed) -> None:
    """AZ735 0x32 / 0x33: GPS with a length byte, one cell, skipped extras, a status."""
    stamp, gps_length = r.take(6), r.uint(1)
    if gps_length:  # 0: no fix, the cell tower follows at once
        read_gps(Reader(stamp + r.take(12)), parsed)
    size = r.uint(1)
    if size:
        r.take(size)
        parsed.attributes["rssi"] = r.uint(1)
    r.take(r.uint(1))  # additional cell towers
    r.take(r.uint(1))  # Wi-Fi access points
    status = r.uint(1)
    parsed.attributes["status"] = status
    if msg_type == MSG_AZ735_ALARM:
        if status in (0xA0, 0xA1):
            parsed.attributes["armed"] = status == 0xA0
        elif status in _AZ735_STATUS_ALARMS:
            parsed.alarms.append(_AZ735_STATUS_ALARMS[status])
    parsed.status()


def _read_modular(r: Reader, parsed: Parsed) -> None:
    """0x70: (module type: 2, length: 2, value) items, as Traccar names them."""
    parsed.status()
    while r.left > 4:
        module, size = r.uint(2), r.uint(2)
        value = Reader(r.take(size))
        if module == 0x03:
            parsed.attributes["iccid"] = value.data.hex()
        elif module == 0x09:
            parsed.fields["satellites"] = value.uint(1)
        elif module == 0x0A:
            parsed.attributes["satVisible"] = value.uint(1)
        elif module == 0x18:
            parsed.attributes["battery"] = value.uint(2) * 0.01
        elif module == 0x28:
            parsed.attributes["hdop"] = value.uint(1) * 0.1
        elif module == 0x29:
            parsed.attributes["index"] = value.uint(4)
        elif module == 0x2A:
            inputs = value.uint(1)
            parsed.attributes["door"] = inputs & 0x0F > 0
            parsed.attributes["tamper"] = inputs >> 4 > 0
        elif module == 0x2B:
            event = value.uint(1)
            parsed.attributes["event"] = event
            if event in _MODULE_EVENT_ALARMS:
                parsed.alarms.append(_MODULE_EVENT_ALARMS[event])
        elif module == 0x2E:
            parsed.fields["odometer_km"] = int.from_bytes(value.take(4), "little") / 1000
        elif module == 0x33:
            _modular_fix(value, parsed)
        elif module == 0x7F:
            _read_ble_tag(value, parsed)


def _read_ble_tag(r: Reader, parsed: Parsed) -> None:
    """Module 0x7F: one BLE sensor tag (id, battery mV and %, temperature x10, humidity,
    status), under Traccar's ``tag1…`` names."""
    parsed.attributes["tag1Id"] = r.take(6).hex()
    parsed.attributes["tag1Battery"] = r.uint(2) / 1000
    parsed.attributes["tag1BatteryLevel"] = r.uint(1)
    parsed.attributes["tag1Temp"] = r.sint(2) / 10
    parsed.attributes["tag1Humidity"] = r.sint(2)
    parsed.attributes["tag1Status"] = r.uint(1)


def _modular_fix(r: Reader, parsed: Parsed) -> None:
    """Module 0x33: unix time, satellites, altitude, then the usual lat/lon/speed/flags."""
    when = datetime.fromtimestamp(r.uint(4), UTC)
    if when.year < 2000:
        return
    satellites = r.uint(1)
    altitude = r.sint(2)
    block = bytes([when.year - 2000, when.month, when.day, when.hour, when.minute, when.second])
    if read_gps(Reader(block + bytes([0xF0 | min(satellites, 15)]) + r.take(11)), parsed):
        parsed.fields.update(satellites=satellites, altitude_m=float(altitude))
