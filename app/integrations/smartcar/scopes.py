"""Which permissions Connect asks for, and why.

The product text lists eight permissions and says all must be granted for car sharing, so they
are sent as ``required:`` (Connect will not let the owner untick them). It also says tire
pressure and oil life are collected "when available": those need ``read_tires`` and
``read_engine_oil``, which we request as *optional* so an owner (or a car) that cannot give them
does not block the connection. ``read_charge`` is optional too: the charge *level* comes with
``read_battery``, but whether an EV is charging right now is what a car-sharing dispatcher
needs to see (a car on the charger is not one to hand out, and its level is about to change),
so the poll reads ``/charge`` for electric and plug-in cars whose owner granted it. Without it
the car simply never shows Charging; it stays rentable.
"""

from __future__ import annotations

REQUIRED_SCOPES: tuple[str, ...] = (
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_battery",
    "read_fuel",
    "read_security",
    "control_security",
)

OPTIONAL_SCOPES: tuple[str, ...] = ("read_tires", "read_engine_oil", "read_charge")


def connect_scope_param(
    required: tuple[str, ...] = REQUIRED_SCOPES, optional: tuple[str, ...] = OPTIONAL_SCOPES
) -> list[str]:
    """Scope list for the Connect URL: required ones prefixed, optional ones bare."""
    return [f"required:{s}" for s in required] + [s for s in optional if s not in required]
