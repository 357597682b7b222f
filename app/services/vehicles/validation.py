"""Identity checks for vehicle records: VIN, IMEI, model year.

These run before anything is stored, so a mistyped VIN is caught at the desk and not
discovered weeks later when Smartcar links the wrong car.
"""

from __future__ import annotations

import re

from stdnum import luhn

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
IMEI_RE = re.compile(r"^\d{15}$")
SMARTCAR_MIN_YEAR = 2016

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / FMVSS 115 check digit (position 9) for a 17-character VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_check_digit_applies(vin: str) -> bool:
    """North American VINs (first character 1-5) must carry a valid check digit.

    Elsewhere position 9 is free for the maker's use, so a mismatch there is no error.
    """
    return vin[:1] in "12345"


def vin_problem(vin: str) -> str | None:
    """Why ``vin`` is not a valid VIN, or None when it is."""
    if len(vin) != 17:
        return f"a VIN has 17 characters; this one has {len(vin)}"
    bad = sorted({c for c in vin if c in "IOQ"})
    if bad:
        return f"a VIN never contains I, O or Q (found {', '.join(bad)})"
    if not VIN_RE.match(vin):
        return "a VIN has only the letters A-Z (without I, O, Q) and digits"
    if vin_check_digit_applies(vin) and vin[8] != vin_check_digit(vin):
        return (
            f"check digit (9th character) is {vin[8]}, expected {vin_check_digit(vin)}: "
            "probably a typo"
        )
    return None


def luhn_complete(first_14: str) -> str:
    """Append the Luhn digit that makes ``first_14`` a valid IMEI."""
    return first_14 + luhn.calc_check_digit(first_14)


def imei_problem(imei: str) -> str | None:
    """Why ``imei`` is not a valid IMEI, or None when it is."""
    if not IMEI_RE.match(imei):
        return f"an IMEI has exactly 15 digits; got {len(imei)} character(s)"
    if not luhn.is_valid(imei):
        return "the IMEI's last digit (Luhn check) does not match: probably a typo"
    return None


def smartcar_year_problem(year: int | None) -> str | None:
    if year is None:
        return "Smartcar needs the model year (2016 or newer)"
    if year < SMARTCAR_MIN_YEAR:
        return f"Smartcar supports model year {SMARTCAR_MIN_YEAR} or newer; this car is {year}"
    return None
