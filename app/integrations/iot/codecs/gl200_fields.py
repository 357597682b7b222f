"""Per-report field walks for Queclink text reports whose layout depends on the report type.

gl200 finds locations, battery and status by shape, which holds across models; the fields
here sit at positions that only the report type and the model fix: GTINF (device state,
power, power2, battery voltage, charge), GTGSM and GTLBS (cell towers), GTBAA and GTBID
(BLE accessories), GTCAN (fuel, AdBlue), GTWIF (access points), GTVER (versions),
GTDTT (serial data, fuel), GTDAR (driver warnings) and the GTERI
extensions selected by its mask (fuel sensors, 1-Wire temperatures, BLE tags). The field
order and attribute names follow Traccar's Gl200TextProtocolDecoder so that a console
reading and a Traccar reading of the same frame agree. Each walk returns the attributes
it found; a frame shorter than its layout says raises IndexError/ValueError, which the
caller turns into "no extra attributes" rather than losing the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_LON = re.compile(r"-?\d{1,3}\.\d{6}")

# Protocol-version prefix (2 hex digits, or 6 for the long versions) -> model, as Queclink
# numbers them; only the models whose layouts differ matter to the walks below.
MODELS = {
    "02": "GL200", "04": "GV200", "06": "GV300", "08": "GMT100", "09": "GV50P", "0F": "GV55",
    "10": "GV55 LITE", "11": "GL500", "1A": "GL300", "1F": "GV500", "21": "GL200",
    "25": "GV300", "27": "GV300W", "28": "GL300VC", "2C": "GL300W", "2D": "GV500VC",
    "2F": "GV55", "4F": "GV56", "30": "GL300", "31": "GV65", "35": "GV200", "36": "GV500",
    "3F": "GMT100", "40": "GL500", "41": "GV75W", "42": "GT501", "44": "GL530", "45": "GB100",
    "50": "GV55W", "52": "GL50", "55": "GL50B", "5E": "GV500MAP", "6E": "GV310LAU",
    "74": "GV350CEU", "BD": "CV200", "C2": "GV600M", "C3": "GL320M", "DC": "GV600MG",
    "DE": "GL500M", "DF": "CV100LG", "F1": "GV350M", "F8": "GV800W", "FC": "GV600W",
    "802004": "GV58LAU", "802005": "GV355CEU", "80201E": "GV30CEU",
}  # fmt: skip

_INF_STATES: dict[int, dict[str, bool]] = {
    0x16: {"ignition": False, "motion": True},
    0x1A: {"ignition": False, "motion": True},
    0x12: {"ignition": False, "motion": True},
    0x11: {"ignition": False, "motion": False},
    0x21: {"ignition": True, "motion": False},
    0x22: {"ignition": True, "motion": True},
    0x41: {"motion": False},
    0x42: {"motion": True},
}


def model_of(version: str) -> str:
    return MODELS.get(version[:6] if len(version) > 6 else version[:2], "")


def _bit(mask: int, n: int) -> bool:
    return bool(mask >> n & 1)


def inf(v: list[str], model: str) -> dict:
    """GTINF: state, ICCID, RSSI, external power (V), power2, backup battery (V), charge."""
    out: dict = {}
    if v[4]:
        out.update(_INF_STATES.get(int(v[4], 16), {}))
    out["iccid"] = v[5]
    if v[6]:
        out["rssi"] = int(v[6])
    i = 9  # after signal quality and the external power supply flag
    if len(v[i + 1]) >= 12:  # a BLE sensor MAC, then its temperature and humidity
        out["deviceTemp"], out["humidity"] = int(v[i + 2]), int(v[i + 3])
        i += 3
    if v[i]:
        if "." in v[i]:
            out["odometer"] = float(v[i]) * 1000
        else:
            out["power"] = int(v[i]) / 1000
    i += 1
    if model != "GV500VC":
        if model not in ("GV350M", "GV310LAU") and v[i]:
            out["power2"] = int(v[i]) / 1000
        i += 1
    if v[i]:
        out["battery"] = float(v[i])
    if v[i + 1]:
        out["charge"] = True if int(v[i + 1]) == 1 else None
    i += 2
    if model == "GV310LAU":
        i += 5  # led state, power saving, external antenna, last fix time, pin mask
        for n in (1, 2, 3):
            out[f"adc{n}"] = int(v[i + n - 1])
    return out


def _tower(mcc: str, mnc: str, lac: str, cid: str, rssi: str) -> dict:
    return {
        "mobileCountryCode": int(mcc),
        "mobileNetworkCode": int(mnc),
        "locationAreaCode": int(lac, 16),
        "cellId": int(cid, 16),
        "signalStrength": int(rssi),
    }


def gsm(v: list[str], model: str) -> dict:
    """GTGSM: six cell slots after the fix type, six fields each (the last is reserved)."""
    cells = v[4:-2]
    if len(cells) < 35:  # a cut report: IndexError keeps the readings found by shape
        raise IndexError("GTGSM has fewer than six cell slots")
    towers = [_tower(*cells[k : k + 5]) for k in range(0, 36, 6) if cells[k]]
    return {"cellTowers": towers}


def lbs(v: list[str], model: str) -> dict:
    """GTLBS: battery %, then seven cell slots (five fields and a reserved one each)."""
    out: dict = {"batteryLevel": int(v[6])}
    i, towers = 12, []
    for _ in range(7):
        if v[i + 1]:
            towers.append(_tower(*v[i : i + 5]))
        i += 6
    out["cellTowers"] = towers
    return out


def _accessory(
    v: list[str], mask_at: int, names: dict[int, tuple[str, Callable[[str], object]]]
) -> dict:
    mask, out, i = int(v[mask_at], 16), {}, mask_at + 1
    for bit in sorted(names):
        if _bit(mask, bit):
            name, convert = names[bit]
            out[name] = convert(v[i])
            i += 1
    return out


def _volts(value: str) -> float:
    return int(value) / 1000


def baa(v: list[str], model: str) -> dict:
    """GTBAA: a BLE accessory alarm; the append mask selects the optional fields."""
    names: dict[int, tuple[str, Callable[[str], object]]] = {
        0: ("accessoryName", str),
        1: ("accessoryMac", str),
        2: ("accessoryStatus", int),
        3: ("accessoryVoltage", _volts),
        4: ("accessoryTemp", int),
        5: ("accessoryHumidity", int),
    }
    return _accessory(v, 8, names)


def bid(v: list[str], model: str) -> dict:
    """GTBID: a BLE accessory seen; MAC and voltage by the append mask."""
    return _accessory(v, 6, {1: ("accessoryMac", str), 3: ("accessoryVoltage", _volts)})


def dtt(v: list[str], model: str) -> dict:
    """GTDTT: transparent serial data (hex); a fuel sensor's ``COMB`` line gives fuel."""
    data = bytes.fromhex(v[8]).decode("ascii", "replace")
    if "COMB" in data:
        return {"fuel": float(data.split(",")[2])}
    return {"result": data}


def dar(v: list[str], model: str) -> dict:
    """GTDAR: driver assistance warning; type 1 is fatigue, with its degree."""
    warning, degree = int(v[4]), int(v[5])
    if warning == 1:
        return {"alarm": "fatigueDriving", "fatigueDegree": degree}
    return {"warningType": warning}


def _skip_location(v: list[str], i: int, model: str) -> int:
    """Index after one ERI location block starting at its hdop (Traccar's walk)."""
    i += 7  # hdop, speed, course, altitude, lon, lat, time
    if len(v[i + 1]) == 12:  # Wi-Fi access points: count, then (mac, rssi, 3 reserved)
        i += 1 + int(v[i]) * 5
    i += 4  # mcc, mnc, lac, cid (present or empty)
    if model.startswith("GL5"):
        i += 2
    if model in ("GT500MA", "GT501"):
        i += 1
    elif model != "GL320M":
        value = v[i]
        i += 1
        if value and "." not in value:
            append = int(value, 16)
            i += _bit(append, 0) + _bit(append, 1) + _bit(append, 4)
    return i


def eri(v: list[str], model: str) -> dict:
    """GTERI: the fields after the locations that its mask switches on."""
    out: dict = {}
    i = 4 + (model == "GV500")
    mask = int(v[i], 16)
    i += 3  # mask, power, report type
    count = int(v[i])
    i += 1
    for _ in range(count):
        i = _skip_location(v, i, model)
    if not model.startswith("GL5"):
        i += 1  # odometer
    if not model.startswith("GL5") and model != "GL320M":
        i += 2  # hour meter, adc 1
    if model.startswith("GV") and not model.startswith("GV6") and model != "GV350M":
        i += 1  # adc 2
    if model in ("GV200", "GV310LAU", "GV350CEU") or (
        (model.startswith("GV3") and model.endswith("CEU")) or model.startswith("GV600M")
    ):
        i += 1  # adc 3 / reserved
    if model.startswith("GL5") or model == "GV200":
        i += 3
    elif model == "GL320M":
        i += 1 + _bit(mask, 7)
    else:
        i += 3  # battery, device status, reserved
    if _bit(mask, 0) and model != "GV350M":
        if v[i]:
            out["fuel"] = int(v[i], 16)
        i += 1
    if _bit(mask, 29):
        i += 2
        data_mask = int(v[i], 16)
        i += 1
        if _bit(data_mask, 0):
            if v[i]:
                out["fuel"] = int(v[i], 16)
            i += 1
        i += _bit(data_mask, 1)
    if _bit(mask, 1):
        count = int(v[i])
        i += 1
        for n in range(1, count + 1):
            raw = v[i + 2]
            if raw:
                value = int(raw, 16)
                out[f"temp{n}"] = (value - 0x10000 if value & 0x8000 else value) * 0.0625
            i += 3
    if _bit(mask, 2):
        return out  # CAN data follows; Traccar stops here too
    if (_bit(mask, 3) or _bit(mask, 4) or (_bit(mask, 0) and model == "GV350M")) and i < len(v) - 2:
        count = int(v[i])
        i += 1
        if not (_bit(mask, 3) or (_bit(mask, 0) and model == "GV350M")):
            # Nothing is read per sensor, so skip them all at once: a mangled count (one
            # fuzzed frame said 202,408,171) would otherwise spin here for minutes.
            count, i = (
                0,
                i + max(count, 0) * (1 + (model == "GV350M") + _bit(mask, 4) + _bit(mask, 10)),
            )
        for _ in range(count):
            i += 1 + (model == "GV350M")
            if _bit(mask, 0) and model == "GV350M":
                out["fuel"] = int(v[i], 16)
                i += 1
            if _bit(mask, 3):
                out["fuel"] = float(v[i])
                i += 1
            i += _bit(mask, 4) + _bit(mask, 10)
    if _bit(mask, 7) and model != "GL320M":
        count = int(v[i])
        i += 1
        for _ in range(count):
            i += 3 + (int(v[i + 1]) == 2)
    if _bit(mask, 8) and model != "GL320M":
        count = int(v[i])
        i += 1
        for n in range(1, count + 1):
            i += 4 + model.startswith("GV600M")
            device_mask = int(v[i], 16)
            i += 1
            for bit in range(15):
                if not _bit(device_mask, bit) or bit == 6:
                    continue
                field = v[i]
                i += 1
                if bit == 1:
                    out[f"tag{n}Id"] = field
                elif bit == 4 and field:
                    out[f"tag{n}Temp"] = float(field)
                elif bit == 5 and field:
                    out[f"tag{n}Humidity"] = int(field)
                elif bit == 13 and field:
                    out[f"tag{n}Battery"] = int(field)
    return out


def can(v: list[str], model: str) -> dict:
    """GTCAN: one field per set bit of the report mask; fuel level is bit 8 and the
    extended mask (bit 29) starts with the AdBlue level. Other CAN readings stay raw."""
    out: dict = {}
    mask, i = int(v[6], 16), 7
    for bit in range(22):
        if not _bit(mask, bit):
            continue
        if bit == 8 and v[i]:
            out["fuel"] = float(v[i][1:])
        i += 1
    if model == "GV350M":
        i += sum(_bit(mask, b) for b in (22, 23, 24))
    elif model in ("GV350CEU", "GV355CEU"):
        i += sum(_bit(mask, b) for b in range(23, 28))
    if _bit(mask, 29) and v[i]:
        ext = int(v[i], 16)
        level = v[i + 1]
        if _bit(ext, 0) and level:
            out["adBlueLevel"] = float(level[1:] if level[:1] in ("L", "P") else level)
    return out


def wif(v: list[str], model: str) -> dict:
    """GTWIF: Wi-Fi access points (MAC, RSSI, three reserved fields each), battery %."""
    count = int(v[4])
    points = [
        {
            "macAddress": ":".join(v[k][j : j + 2] for j in range(0, 12, 2)),
            "signalStrength": int(v[k + 1]),
        }
        for k in range(5, 5 + 5 * count, 5)
    ]
    return {"wifiAccessPoints": points, "batteryLevel": int(v[-3])}


def ver(v: list[str], model: str) -> dict:
    """GTVER: device type and firmware/hardware versions (hex)."""
    return {"deviceType": v[4], "versionFw": int(v[5], 16), "versionHw": int(v[6], 16)}


def fri(v: list[str], model: str) -> dict:
    """GTFRI without any fix (cell only): Traccar still reads the battery % before the
    send time; with a fix, gl200's shape rules find it."""
    if any(_LON.fullmatch(x) for x in v[4:-2]):
        return {}
    return {"batteryLevel": int(v[-3])}


WALKS: dict[str, Callable[[list[str], str], dict]] = {
    "INF": inf,
    "GSM": gsm,
    "LBS": lbs,
    "BAA": baa,
    "BID": bid,
    "DTT": dtt,
    "DAR": dar,
    "ERI": eri,
    "CAN": can,
    "WIF": wif,
    "VER": ver,
    "FRI": fri,
}
