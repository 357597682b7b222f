"""The demo fleet: about 40 Smartcar-capable cars and 60 IoT scooters and e-bikes in one city.

Generated deterministically from a seed, so the same VINs and IMEIs come back on every
start; the Smartcar and IoT device simulators are built from this same list, which is
what lets a demo car be linked by VIN and a demo scooter be recognised by IMEI.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from app.config import DemoSettings
from app.models.enums import ConnectionType, Powertrain, VehicleKind
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.vehicles.validation import luhn_complete, vin_check_digit

# Brand -> (world manufacturer identifiers, models with their powertrain).
BRANDS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, Powertrain], ...]]] = {
    "BMW": (
        ("WBA", "5UX"),
        (("i4", Powertrain.BEV), ("330e", Powertrain.PHEV), ("X3", Powertrain.ICE)),
    ),
    "Chevrolet": (
        ("1G1", "1GN"),
        (("Bolt EV", Powertrain.BEV), ("Malibu", Powertrain.ICE), ("Equinox", Powertrain.ICE)),
    ),
    "Ford": (
        ("1FA", "1FM"),
        (("Mustang Mach-E", Powertrain.BEV), ("Escape", Powertrain.ICE), ("Focus", Powertrain.ICE)),
    ),
    "Honda": (
        ("1HG", "JHM"),
        (("Civic", Powertrain.ICE), ("CR-V Hybrid", Powertrain.ICE), ("Accord", Powertrain.ICE)),
    ),
    "Hyundai": (
        ("KMH", "5NM"),
        (
            ("Ioniq 5", Powertrain.BEV),
            ("Kona Electric", Powertrain.BEV),
            ("Tucson", Powertrain.ICE),
        ),
    ),
    "Kia": (
        ("KNA", "5XY"),
        (("EV6", Powertrain.BEV), ("Niro PHEV", Powertrain.PHEV), ("Sportage", Powertrain.ICE)),
    ),
    "Mercedes-Benz": (
        ("WDD", "W1K"),
        (("EQA", Powertrain.BEV), ("C 300", Powertrain.ICE), ("A 250 e", Powertrain.PHEV)),
    ),
    "Nissan": (
        ("JN1", "1N4"),
        (("Leaf", Powertrain.BEV), ("Qashqai", Powertrain.ICE), ("Ariya", Powertrain.BEV)),
    ),
    "Tesla": (("5YJ", "7SA"), (("Model 3", Powertrain.BEV), ("Model Y", Powertrain.BEV))),
    "Toyota": (
        ("JTD", "4T1"),
        (("Corolla", Powertrain.ICE), ("RAV4 Prime", Powertrain.PHEV), ("bZ4X", Powertrain.BEV)),
    ),
    "Volkswagen": (
        ("WVW", "3VW"),
        (("ID.4", Powertrain.BEV), ("Golf", Powertrain.ICE), ("Passat", Powertrain.ICE)),
    ),
}

# Make -> (vehicle kind, IoT vendor profile, protocol its devices speak, model names).
# The last three are retrofits: a third-party tracker on a vehicle whose maker ships no
# IoT, so every wire protocol the gateway speaks is in the demo fleet.
MICROMOBILITY: dict[str, tuple[VehicleKind, str, str, tuple[str, ...]]] = {
    "OKAI": (VehicleKind.SCOOTER, "OKAI", "okai", ("ES400", "ES500")),
    "Segway": (VehicleKind.SCOOTER, "Segway", "segway", ("Max Plus X", "S90L")),
    "ZIMO": (VehicleKind.EBIKE, "ZIMO", "mqtt-zimo", ("Z-Bike Pro",)),  # through the broker
    "Omni": (VehicleKind.EBIKE, "Omni", "omni", ("OM-Lock E-Bike",)),
    "NIU": (VehicleKind.SCOOTER, "Teltonika", "teltonika", ("KQi3 Pro",)),
    "Yadea": (VehicleKind.SCOOTER, "Concox", "gt06", ("KS5 Pro",)),
    "Tenways": (VehicleKind.EBIKE, "JT/T 808 (generic)", "jt808", ("CGO600",)),
}

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_YEAR_CODES = "GHJKLMNPRS"  # position 10: 2016 .. 2025


@dataclass(frozen=True)
class DemoVehicle:
    """A demo vehicle: the record to store and where it starts in the city."""

    fields: VehicleFields
    latitude: float
    longitude: float


def make_vin(rng: random.Random, wmi: str, year: int) -> str:
    body = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
    serial = "".join(rng.choice("0123456789") for _ in range(6))
    draft = f"{wmi}{body}0{_YEAR_CODES[year - 2016]}{rng.choice('ABCDEFGH')}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


def make_imei(rng: random.Random) -> str:
    # 86 = a reporting-body prefix common on Chinese-made IoT modules.
    return luhn_complete("86" + "".join(rng.choice("0123456789") for _ in range(12)))


def _spot(rng: random.Random, settings: DemoSettings) -> tuple[float, float]:
    """A point within ~4 km of the centre, denser towards the middle like a real fleet."""
    distance_km = 4.0 * math.sqrt(rng.random()) * rng.random() ** 0.3
    bearing = rng.uniform(0, 2 * math.pi)
    lat = settings.center_lat + distance_km / 111.0 * math.cos(bearing)
    lon = settings.center_lon + distance_km / (
        111.0 * math.cos(math.radians(settings.center_lat))
    ) * math.sin(bearing)
    return round(lat, 6), round(lon, 6)


def demo_fleet(settings: DemoSettings) -> list[DemoVehicle]:
    """The whole demo fleet for ``settings``, the same on every call."""
    rng = random.Random(settings.seed)
    fleet: list[DemoVehicle] = []
    brands = list(BRANDS)
    for index in range(settings.cars):
        make = brands[index % len(brands)]
        wmis, models = BRANDS[make]
        model, powertrain = rng.choice(models)
        year = rng.randint(2016, 2025)
        plate = f"B-LF {1000 + index}"
        fields = VehicleFields(
            name=f"{make} {model}",
            fleet_number=f"C-{index + 1:03d}",
            kind=VehicleKind.CAR.value,
            make=make,
            model=model,
            year=year,
            vin=make_vin(rng, rng.choice(wmis), year),
            plate=plate,
            powertrain=powertrain.value,
            connection_type=ConnectionType.NONE.value,
        )
        fleet.append(DemoVehicle(fields, *_spot(rng, settings)))
    vendors = list(MICROMOBILITY)
    for index in range(settings.micromobility):
        make = vendors[index % len(vendors)]
        kind, iot_vendor, protocol, scooter_models = MICROMOBILITY[make]
        prefix = "S" if kind is VehicleKind.SCOOTER else "B"
        scooter_model = rng.choice(scooter_models)
        fields = VehicleFields(
            name=f"{make} {scooter_model}",
            fleet_number=f"{prefix}-{index + 1:03d}",
            kind=kind.value,
            make=make,
            model=scooter_model,
            imei=make_imei(rng),
            powertrain=Powertrain.BEV.value,
            connection_type=ConnectionType.IOT.value,
            iot_vendor=iot_vendor,
            iot_protocol=protocol,
        )
        fleet.append(DemoVehicle(fields, *_spot(rng, settings)))
    return fleet


def seed_if_empty(repository: VehicleRepository, settings: DemoSettings) -> int:
    """Store the demo fleet when the database has no vehicles yet; returns how many."""
    if repository.count() > 0:
        return 0
    fleet = demo_fleet(settings)
    repository.add_many([v.fields for v in fleet])
    return len(fleet)
