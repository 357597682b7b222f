"""Rental surcharges from start and end readings: pure arithmetic, Decimal money, a receipt.

Rules come from ``[surcharges.<kind>]`` in the settings (app.config.KindSurcharges).
Product rule (product.md 3.1): when a reading needed for a surcharge is missing at start
or end, that surcharge is skipped and the receipt says why; it is never estimated. Every
line carries the sentence that explains how it was computed, so a depot manager can
answer a customer's "why was I charged this?" from the receipt alone.

Fairness (issue #13 item 8): a customer pays only for fuel or charge they used. A
threshold fee needs the level at return to be below the threshold AND below the level at
hand-out (a car handed out at 38 % and returned at 38 % costs nothing); per-unit charges
only the points used. A plug-in hybrid is billed on one energy, ``[surcharges]
phev_energy`` ("fuel" by default: the fuel tank is what a renter is asked to refill; the
charge would otherwise bill the same trip twice).

Money is Decimal end to end; each line is rounded to cents (ROUND_HALF_UP) after its cap,
and the total is the sum of the rounded lines (what the receipt shows adds up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from app.config import KindSurcharges, LevelSurcharge, MileageSurcharge

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAY = timedelta(days=1)

Kind = Literal["fuel", "charge", "mileage"]
LEVEL_NAMES = {"fuel": "Fuel", "charge": "Charge"}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: float) -> Decimal:
    """A float reading as the Decimal its shortest repr names (70.1 -> 70.1, not 70.09999...)."""
    return Decimal(repr(float(value)))


def _pct(value: float) -> str:
    return f"{value:g} %"


@dataclass(frozen=True, slots=True)
class Readings:
    """What the vehicle reported at one end of the rental (None = not available)."""

    fuel_pct: float | None = None
    charge_pct: float | None = None
    odometer_km: float | None = None


@dataclass(frozen=True, slots=True)
class SurchargeLine:
    """One receipt line; ``skipped`` lines cost nothing and say why in ``explanation``."""

    kind: Kind
    amount: Decimal
    explanation: str
    skipped: bool = False
    capped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "amount": str(self.amount),
            "explanation": self.explanation,
            "skipped": self.skipped,
            "capped": self.capped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SurchargeLine:
        return cls(
            data["kind"],
            Decimal(data["amount"]),
            data["explanation"],
            bool(data.get("skipped")),
            bool(data.get("capped")),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    lines: tuple[SurchargeLine, ...]
    currency: str

    @property
    def total(self) -> Decimal:
        return money(sum((line.amount for line in self.lines), ZERO))

    def text(self) -> str:
        """The receipt as plain text (dialogs, CSV, clipboard)."""
        if not self.lines:
            return "No surcharges apply to this vehicle."
        rows = [
            f"{LEVEL_NAMES.get(line.kind, 'Mileage')}: {line.amount} {self.currency} — "
            f"{line.explanation}"
            for line in self.lines
        ]
        rows.append(f"Total surcharges: {self.total} {self.currency}")
        return "\n".join(rows)


def _apply_cap(amount: Decimal, cap: Decimal | None) -> tuple[Decimal, bool, str]:
    if cap is not None and amount > cap:
        return money(cap), True, f"; capped at {money(cap)}"
    return money(amount), False, ""


def level_line(
    kind: Literal["fuel", "charge"], rule: LevelSurcharge, start: float | None, end: float | None
) -> SurchargeLine | None:
    """Fuel or charge surcharge; None when the rule is off."""
    if rule.mode == "off":
        return None
    name = LEVEL_NAMES[kind].lower()
    missing = [w for w, v in (("check-in", start), ("check-out", end)) if v is None]
    if missing:
        where = " and ".join(missing)
        return SurchargeLine(
            kind, ZERO, f"skipped: no {name} reading at {where} (never estimated)", skipped=True
        )
    assert start is not None and end is not None
    if rule.mode == "threshold":
        if end >= rule.threshold_pct:
            return SurchargeLine(
                kind, ZERO, f"returned at {_pct(end)}, not below {_pct(rule.threshold_pct)}"
            )
        if _dec(end) >= _dec(start):
            return SurchargeLine(
                kind, ZERO, f"returned at {_pct(end)}, handed out at {_pct(start)}: nothing used"
            )
        amount, capped, note = _apply_cap(rule.flat_fee, rule.cap)
        text = (
            f"returned at {_pct(end)}, below {_pct(rule.threshold_pct)}: "
            f"flat fee {money(rule.flat_fee)}{note}"
        )
        return SurchargeLine(kind, amount, text, capped=capped)
    used = max(ZERO, _dec(start) - _dec(end))
    if used == 0:
        return SurchargeLine(kind, ZERO, f"{_pct(start)} -> {_pct(end)}: nothing used")
    amount, capped, note = _apply_cap(used * rule.per_point, rule.cap)
    text = f"{_pct(start)} -> {_pct(end)}: {used:f} points × {rule.per_point} per point{note}"
    return SurchargeLine(kind, amount, text, capped=capped)


def rental_days(started: datetime, ended: datetime) -> int:
    """Started 24-hour periods, at least one (a 25-hour rental includes two days' km)."""
    return max(1, math.ceil((ended - started) / DAY))


def mileage_line(
    rule: MileageSurcharge, start: float | None, end: float | None, days: int
) -> SurchargeLine | None:
    if not rule.enabled:
        return None
    missing = [w for w, v in (("check-in", start), ("check-out", end)) if v is None]
    if missing:
        where = " and ".join(missing)
        return SurchargeLine(
            "mileage",
            ZERO,
            f"skipped: no odometer reading at {where} (never estimated)",
            skipped=True,
        )
    assert start is not None and end is not None
    driven = _dec(end) - _dec(start)
    if driven < 0:
        return SurchargeLine(
            "mileage",
            ZERO,
            f"skipped: the odometer went backwards ({start:g} -> {end:g} km)",
            skipped=True,
        )
    included = _dec(rule.included_km_per_day) * days
    over = max(ZERO, driven - included)
    head = f"{driven:f} km driven, {included:f} km included ({days} day(s))"
    if over == 0:
        return SurchargeLine("mileage", ZERO, head)
    amount, capped, note = _apply_cap(over * rule.per_km, rule.cap)
    text = f"{head}: {over:f} km × {rule.per_km} per km{note}"
    return SurchargeLine("mileage", amount, text, capped=capped)


def compute_receipt(
    rules: KindSurcharges,
    start: Readings,
    end: Readings,
    *,
    started_at: datetime,
    ended_at: datetime,
    powertrain: str | None,
    currency: str = "",
    phev_energy: Literal["fuel", "charge"] = "fuel",
) -> Receipt:
    """All surcharges for one rental.

    Fuel applies to combustion cars, charge to electric cars, and a plug-in hybrid is
    billed on ``phev_energy`` only; a vehicle without a recorded powertrain gets whichever
    level it reported.
    """
    has_fuel = powertrain == "ice" or (powertrain == "phev" and phev_energy == "fuel")
    has_charge = powertrain == "bev" or (powertrain == "phev" and phev_energy == "charge")
    if powertrain is None:
        has_fuel = start.fuel_pct is not None or end.fuel_pct is not None
        has_charge = start.charge_pct is not None or end.charge_pct is not None
    lines: list[SurchargeLine | None] = []
    if has_fuel:
        lines.append(level_line("fuel", rules.fuel, start.fuel_pct, end.fuel_pct))
    if has_charge:
        lines.append(level_line("charge", rules.charge, start.charge_pct, end.charge_pct))
    days = rental_days(started_at, ended_at)
    lines.append(mileage_line(rules.mileage, start.odometer_km, end.odometer_km, days))
    return Receipt(tuple(line for line in lines if line is not None), currency)
