from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.config import KindSurcharges, LevelSurcharge, MileageSurcharge, Settings
from app.services.rentals.surcharges import (
    Readings,
    SurchargeLine,
    compute_receipt,
    level_line,
    mileage_line,
    rental_days,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
THRESHOLD = LevelSurcharge()  # defaults: below 75 % costs 45.00
PER_UNIT = LevelSurcharge(mode="per_unit", per_point=Decimal("0.50"))


@pytest.mark.parametrize(
    ("end", "fee"),
    [(80.0, "0.00"), (75.0, "0.00"), (74.999, "45.00"), (70.0, "45.00"), (15.0, "45.00")],
)
def test_threshold_mode_matches_the_documented_examples(end, fee):
    line = level_line("fuel", THRESHOLD, 90.0, end)
    assert line is not None and line.amount == Decimal(fee)
    assert ("not below 75 %" in line.explanation) == (fee == "0.00")


def test_threshold_never_bills_a_level_the_customer_did_not_lower():
    same = level_line("fuel", THRESHOLD, 38.0, 38.0)
    higher = level_line("charge", THRESHOLD, 31.0, 40.0)
    lower = level_line("fuel", THRESHOLD, 38.0, 37.5)
    assert same.amount == higher.amount == Decimal("0.00")
    assert "handed out at 38 %: nothing used" in same.explanation
    assert lower.amount == Decimal("45.00")


def test_phev_handed_out_low_and_returned_unchanged_costs_nothing():
    """Issue #13 item 8: 38 % fuel / 31 % charge out, the same back a minute later: 90.00."""
    readings = Readings(fuel_pct=38.0, charge_pct=31.0, odometer_km=500.0)
    receipt = compute_receipt(
        KindSurcharges(),
        readings,
        readings,
        started_at=T0,
        ended_at=T0 + timedelta(minutes=1),
        powertrain="phev",
    )
    assert receipt.total == Decimal("0.00")
    assert [line.kind for line in receipt.lines] == ["fuel", "mileage"]


def test_threshold_fee_respects_cap():
    line = level_line("fuel", LevelSurcharge(cap=Decimal("30")), 90.0, 10.0)
    assert line.amount == Decimal("30.00") and line.capped and "capped at 30.00" in line.explanation


def test_per_unit_charges_points_used_and_rounds_half_up():
    line = level_line(
        "charge", LevelSurcharge(mode="per_unit", per_point=Decimal("0.25")), 80.0, 70.1
    )
    # 9.9 points x 0.25 = 2.475 -> 2.48 (half up, not banker's 2.48/2.47)
    assert line.amount == Decimal("2.48")
    assert "9.9 points × 0.25" in line.explanation


def test_per_unit_nothing_used_or_refuelled_costs_nothing():
    assert level_line("fuel", PER_UNIT, 50.0, 50.0).amount == Decimal("0.00")
    assert level_line("fuel", PER_UNIT, 50.0, 90.0).amount == Decimal("0.00")


def test_per_unit_cap_reached_exactly_and_beyond():
    rule = LevelSurcharge(mode="per_unit", per_point=Decimal("1.00"), cap=Decimal("20.00"))
    at_cap = level_line("fuel", rule, 60.0, 40.0)
    assert at_cap.amount == Decimal("20.00") and not at_cap.capped
    beyond = level_line("fuel", rule, 60.0, 10.0)
    assert beyond.amount == Decimal("20.00") and beyond.capped


@pytest.mark.parametrize(
    ("start", "end", "where"), [(None, 50.0, "check-in"), (60.0, None, "check-out")]
)
def test_missing_reading_skips_and_says_so(start, end, where):
    for rule in (THRESHOLD, PER_UNIT):
        line = level_line("fuel", rule, start, end)
        assert line.skipped and line.amount == Decimal("0.00")
        assert where in line.explanation and "never estimated" in line.explanation


def test_off_mode_gives_no_line():
    assert level_line("fuel", LevelSurcharge(mode="off"), 90.0, 10.0) is None
    assert mileage_line(MileageSurcharge(enabled=False), 0.0, 9999.0, 1) is None


def test_mileage_included_per_started_day():
    rule = MileageSurcharge()  # 200 km/day, 0.30/km
    assert rental_days(T0, T0 + timedelta(hours=24)) == 1
    assert rental_days(T0, T0 + timedelta(hours=25)) == 2
    assert rental_days(T0, T0) == 1
    exactly = mileage_line(rule, 1000.0, 1200.0, 1)
    assert exactly.amount == Decimal("0.00")
    over = mileage_line(rule, 1000.0, 1250.5, 1)
    assert over.amount == Decimal("15.15")  # 50.5 km x 0.30
    assert "50.5 km × 0.30" in over.explanation
    assert mileage_line(rule, 1000.0, 1400.0, 2).amount == Decimal("0.00")


def test_mileage_cap_and_backwards_odometer():
    capped = mileage_line(MileageSurcharge(cap=Decimal("10.00")), 0.0, 1000.0, 1)
    assert capped.amount == Decimal("10.00") and capped.capped
    back = mileage_line(MileageSurcharge(), 500.0, 400.0, 1)
    assert back.skipped and "backwards" in back.explanation
    missing = mileage_line(MileageSurcharge(), None, None, 1)
    assert missing.skipped and "check-in and check-out" in missing.explanation


def test_receipt_picks_lines_by_powertrain_and_totals():
    rules = KindSurcharges()
    start = Readings(fuel_pct=90.0, charge_pct=80.0, odometer_km=1000.0)
    end = Readings(fuel_pct=70.0, charge_pct=None, odometer_km=1300.0)
    kw = {"started_at": T0, "ended_at": T0 + timedelta(hours=3), "currency": "USD"}
    ice = compute_receipt(rules, start, end, powertrain="ice", **kw)
    assert [line.kind for line in ice.lines] == ["fuel", "mileage"]
    assert ice.total == Decimal("75.00")  # 45 + 100 km x 0.30
    phev = compute_receipt(rules, start, end, powertrain="phev", **kw)
    assert [line.kind for line in phev.lines] == ["fuel", "mileage"]  # one energy, not two
    assert phev.total == Decimal("75.00")
    assert "Total surcharges: 75.00 USD" in phev.text()
    on_charge = compute_receipt(rules, start, end, powertrain="phev", phev_energy="charge", **kw)
    assert [line.kind for line in on_charge.lines] == ["charge", "mileage"]
    bev = compute_receipt(rules, start, end, powertrain="bev", **kw)
    assert [line.kind for line in bev.lines] == ["charge", "mileage"]


def test_scooters_have_no_surcharges_by_default():
    rules = Settings().surcharges.for_kind("scooter")
    receipt = compute_receipt(
        rules,
        Readings(charge_pct=90.0),
        Readings(charge_pct=5.0),
        started_at=T0,
        ended_at=T0,
        powertrain="bev",
    )
    assert receipt.lines == () and receipt.total == Decimal("0.00")
    assert "No surcharges" in receipt.text()


def test_lines_round_trip_through_json():
    line = SurchargeLine("fuel", Decimal("45.00"), "x", capped=True)
    assert SurchargeLine.from_json(line.to_json()) == line


def test_settings_money_is_decimal_and_validated():
    s = Settings.model_validate(
        {"surcharges": {"e-bike": {"charge": {"mode": "per_unit", "per_point": 0.1}}}}
    )
    assert s.surcharges.for_kind("e-bike").charge.per_point == Decimal("0.1")
    with pytest.raises(ValueError):
        Settings.model_validate({"surcharges": {"car": {"fuel": {"flat_fee": -1}}}})
