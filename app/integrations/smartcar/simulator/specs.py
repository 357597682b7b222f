"""Simulated vehicle specifications and the deterministic fleet generator.

The app passes its own demo fleet as a list of :class:`VehicleSpec`; benchmarks and the CLI ask
for ``N`` generated ones instead. Generation is seeded so the same seed always yields the same
VINs, positions and owners, which keeps tests and demo screenshots reproducible.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Literal

Powertrain = Literal["ice", "bev", "phev"]

#: Brands offered on the simulated Connect brand page (the product text's list), with a WMI
#: (world manufacturer identifier) so generated VINs decode to the right make.
BRAND_WMI: dict[str, str] = {
    "BMW": "WBA",
    "CHEVROLET": "1G1",
    "FORD": "1FA",
    "HONDA": "JHM",
    "HYUNDAI": "KMH",
    "KIA": "KNA",
    "MERCEDES-BENZ": "WDD",
    "NISSAN": "JN1",
    "TESLA": "5YJ",
    "TOYOTA": "JTD",
    "VOLKSWAGEN": "WVW",
}

#: Display names for the brand page, keyed like ``BRAND_WMI``.
BRAND_NAMES: dict[str, str] = {
    "BMW": "BMW",
    "CHEVROLET": "Chevrolet",
    "FORD": "Ford",
    "HONDA": "Honda",
    "HYUNDAI": "Hyundai",
    "KIA": "Kia",
    "MERCEDES-BENZ": "Mercedes-Benz",
    "NISSAN": "Nissan",
    "TESLA": "Tesla",
    "TOYOTA": "Toyota",
    "VOLKSWAGEN": "Volkswagen",
}

_MODELS: dict[str, list[tuple[str, Powertrain]]] = {
    "BMW": [("i4", "bev"), ("330e", "phev"), ("X3", "ice")],
    "CHEVROLET": [("Bolt EV", "bev"), ("Volt", "phev"), ("Malibu", "ice")],
    "FORD": [("Mustang Mach-E", "bev"), ("Escape PHEV", "phev"), ("Focus", "ice")],
    "HONDA": [("Civic", "ice"), ("CR-V", "ice"), ("Clarity", "phev")],
    "HYUNDAI": [("Ioniq 5", "bev"), ("Tucson PHEV", "phev"), ("i30", "ice")],
    "KIA": [("EV6", "bev"), ("Niro PHEV", "phev"), ("Ceed", "ice")],
    "MERCEDES-BENZ": [("EQA", "bev"), ("C 300 e", "phev"), ("A 180", "ice")],
    "NISSAN": [("Leaf", "bev"), ("Qashqai", "ice"), ("Micra", "ice")],
    "TESLA": [("Model 3", "bev"), ("Model Y", "bev"), ("Model S", "bev")],
    "TOYOTA": [("Corolla", "ice"), ("RAV4 Plug-in", "phev"), ("Yaris", "ice")],
    "VOLKSWAGEN": [("ID.3", "bev"), ("Golf GTE", "phev"), ("Polo", "ice")],
}

# Model-year codes (VIN position 10) repeat every 30 years; 2010 restarts at "A".
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

_NAMESPACE = uuid.UUID("6f1b2d4e-8c1a-4f59-9a43-1d2b3c4d5e6f")


@dataclass(frozen=True)
class VehicleSpec:
    """What the app (or the generator) says a simulated car is; the simulator adds live state."""

    vin: str
    make: str
    model: str
    year: int
    powertrain: Powertrain
    lat: float
    lon: float
    odometer_km: float
    owner_email: str | None = None

    def __post_init__(self) -> None:
        if not is_valid_vin(self.vin):
            raise ValueError(f"invalid VIN {self.vin!r}")
        if self.powertrain not in ("ice", "bev", "phev"):
            raise ValueError(f"unknown powertrain {self.powertrain!r}")
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise ValueError("lat/lon out of range")
        if self.odometer_km < 0:
            raise ValueError("odometer_km must be >= 0")


def vehicle_id_for(vin: str) -> str:
    """Stable Smartcar-style vehicle id (a UUID) derived from the VIN, so ids survive restarts."""
    return str(uuid.uuid5(_NAMESPACE, vin.upper()))


def is_valid_vin(vin: str) -> bool:
    """17 characters from the VIN alphabet (no I, O, Q); the check digit is not enforced."""
    return len(vin) == 17 and all(c in _VIN_CHARS for c in vin.upper())


def year_code(year: int) -> str:
    """VIN position-10 character for a model year (1980-2039)."""
    return _YEAR_CODES[(year - 1980) % 30]


def decode_year(vin: str, latest: int = 2039) -> int | None:
    """Model year from VIN position 10, picking the most recent cycle not after ``latest``."""
    idx = _YEAR_CODES.find(vin[9].upper())
    if idx < 0:
        return None
    year = 1980 + idx
    while year + 30 <= latest:
        year += 30
    return year


def make_vin(wmi: str, year: int, serial: int) -> str:
    """Build a VIN with a correct check digit (position 9) so it passes strict validators."""
    body = f"{wmi}{'A1B2C'}0{year_code(year)}P{serial % 1_000_000:06d}"
    total = sum(_VIN_VALUES[c] * w for c, w in zip(body, _VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def generate_fleet(
    count: int,
    seed: int = 0,
    *,
    owner_email: str | None = None,
    center: tuple[float, float] = (52.52, 13.405),
) -> list[VehicleSpec]:
    """``count`` plausible 2016+ cars scattered ~10 km around ``center``; same seed, same fleet."""
    rng = random.Random(seed)
    makes = sorted(_MODELS)
    fleet = []
    for i in range(count):
        make = makes[rng.randrange(len(makes))]
        model, powertrain = _MODELS[make][rng.randrange(3)]
        year = rng.randint(2016, 2025)
        fleet.append(
            VehicleSpec(
                vin=make_vin(BRAND_WMI[make], year, seed * 100_003 + i),
                make=make,
                model=model,
                year=year,
                powertrain=powertrain,
                lat=round(center[0] + rng.uniform(-0.09, 0.09), 6),
                lon=round(center[1] + rng.uniform(-0.14, 0.14), 6),
                odometer_km=round(rng.uniform(500, 120_000), 1),
                owner_email=owner_email,
            )
        )
    return fleet
