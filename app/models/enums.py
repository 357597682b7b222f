"""The closed vocabularies of the data model, stored as their string values."""

from __future__ import annotations

import enum


class VehicleKind(enum.StrEnum):
    CAR = "car"
    SCOOTER = "scooter"
    EBIKE = "e-bike"


class ConnectionType(enum.StrEnum):
    SMARTCAR = "smartcar"
    IOT = "iot"
    NONE = "none"


class VehicleStatus(enum.StrEnum):
    """Operational status, as Levy Fleets' list shows it (product.md 2a)."""

    AVAILABLE = "available"
    IN_USE = "in_use"
    MAINTENANCE = "maintenance"
    NOT_READY = "not_ready"
    CHARGING = "charging"
    DISCHARGED = "discharged"  # ATOM Mobility's term: fuel or charge below the set level
    OFFLINE = "offline"


class Powertrain(enum.StrEnum):
    ICE = "ice"
    BEV = "bev"
    PHEV = "phev"


class ConnectionStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class CommandState(enum.StrEnum):
    """Where a remote command is (the ``command`` table's ``state``; IoT and Smartcar)."""

    QUEUED = "queued"  # waiting for the device to be online (or, relayed, for the collector)
    SENT = "sent"  # written to the device's connection
    ACKNOWLEDGED = "acknowledged"  # the device answered (command result record)
    CONFIRMED = "confirmed"  # a later report shows the requested state
    FAILED = "failed"  # the device refused, or the command could not be encoded
    TIMED_OUT = "timed_out"  # no progress within the configured time


class RentalState(enum.StrEnum):
    """Levy Fleets' rental session states (product.md 3.1)."""

    CHECK_IN_STARTED = "check_in_started"
    PRE_CONDITION_DOCUMENTED = "pre_condition_documented"
    VEHICLE_UNLOCKED = "vehicle_unlocked"
    RENTAL_ACTIVE = "rental_active"
    CHECK_OUT_STARTED = "check_out_started"
    VEHICLE_LOCKED = "vehicle_locked"
    BILLING_COMPLETE = "billing_complete"
    COMPLETED = "completed"
    CHECK_IN_EXPIRED = "check_in_expired"
    CANCELLED = "cancelled"


#: Rental states that end a rental for good. Defined beside the states because the
#: database's one-open-rental-per-vehicle index (orm.Rental) is built from it, and the
#: state machine (app.services.rentals.states) must agree with that index.
TERMINAL_RENTAL_STATES = frozenset(
    {RentalState.COMPLETED, RentalState.CHECK_IN_EXPIRED, RentalState.CANCELLED}
)
