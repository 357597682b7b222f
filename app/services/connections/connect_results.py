"""What a Smartcar Connect attempt yields, how it fails, and the operator's words for it.

Plain data and pure functions, shared by :class:`app.services.connections.service.ConnectionService`
and the Connect dialog; kept apart from the service so the views and tests can use the
results and errors without the service's database and client plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.integrations.smartcar.auth import TokenSet
from app.integrations.smartcar.errors import ConnectRedirectError, SmartcarApiError

INCOMPATIBLE_REASONS = {
    "MAKE_NOT_COMPATIBLE": "Smartcar does not support this make.",
    "VEHICLE_NOT_COMPATIBLE": "Smartcar does not support this model or model year (it needs a "
    "2016 or newer car with connected services).",
}


class ConnectFailed(Exception):
    """Connect did not produce a usable authorization; ``str(exc)`` is for the operator."""


class VinMismatch(Exception):
    """The car Smartcar returned has another VIN than the record: the operator decides."""

    def __init__(self, record_vin: str, smartcar_vin: str) -> None:
        super().__init__(
            f"The record's VIN is {record_vin} but Smartcar's car has VIN {smartcar_vin}."
        )
        self.record_vin = record_vin
        self.smartcar_vin = smartcar_vin


class VinInUse(Exception):
    """The Smartcar car's VIN already belongs to another console vehicle."""


@dataclass(frozen=True)
class SmartcarCar:
    """One car of a grant, as Smartcar describes it (any field may be unknown)."""

    smartcar_id: str
    make: str
    model: str
    year: int | None
    vin: str | None
    scopes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.year or ''} {self.make} {self.model} — VIN {self.vin or 'unknown'}".strip()


@dataclass(frozen=True)
class Authorization:
    """A completed Connect: the grant's tokens (never in ``repr``; None in V3, where the
    user id is all a connection needs) and its cars."""

    vehicle_id: int
    tokens: TokenSet | None = field(repr=False)
    user_id: str | None
    cars: tuple[SmartcarCar, ...]


@dataclass(frozen=True)
class LinkPlan:
    """Which car to link: chosen by VIN, the only one (maybe with a VIN conflict), or ask."""

    match: SmartcarCar | None
    vin_conflict: bool = False

    @property
    def needs_choice(self) -> bool:
        return self.match is None


@dataclass(frozen=True)
class CompatibilityReport:
    compatible: bool
    reason: str
    permissions: dict[str, bool]


def plan_link(record_vin: str | None, cars: tuple[SmartcarCar, ...]) -> LinkPlan:
    by_vin = next((c for c in cars if record_vin and c.vin == record_vin), None)
    if by_vin is not None:
        return LinkPlan(by_vin)
    if len(cars) == 1:
        car = cars[0]
        return LinkPlan(car, vin_conflict=bool(record_vin and car.vin and car.vin != record_vin))
    return LinkPlan(None)


def redirect_message(exc: ConnectRedirectError) -> str:
    message = exc.operator_message
    if exc.error == "vehicle_incompatible":
        car = " ".join(exc.extra.get(k, "") for k in ("year", "make", "model")).strip()
        if car:
            message = f"{message} (Smartcar reported: {car})"
    return message


def short_error(exc: BaseException) -> str:
    if isinstance(exc, SmartcarApiError):
        return f"{exc.type}{':' + exc.code if exc.code else ''} — {exc.description}"
    return str(exc) or type(exc).__name__
