import pytest

from app.services.vehicles import validation as v


@pytest.mark.parametrize(
    "vin",
    ["1HGCM82633A004352", "5YJ3E1EA2KF317000", "WBA8E9G50GNU12345", "JTDKB20U693123456"],
)
def test_valid_vins_pass(vin):
    assert v.vin_problem(vin) is None


def test_north_american_vin_with_wrong_check_digit_is_refused():
    problem = v.vin_problem("1HGCM82643A004352")  # 9th char 4 instead of 3
    assert problem is not None and "expected 3" in problem


def test_european_vin_check_digit_is_not_enforced():
    assert v.vin_problem("WBA8E9G59GNU12345") is None


@pytest.mark.parametrize(
    ("vin", "words"),
    [
        ("1HGCM82633A00435", "17 characters"),
        ("1HGCM82633A0043521", "17 characters"),
        ("1HGCM8263IA004352", "I, O or Q"),
        ("1HGCM8263OA004352", "I, O or Q"),
        ("1HGCM8263QA004352", "I, O or Q"),
        ("1HGCM8263-A004352", "only the letters"),
    ],
)
def test_bad_vins_name_the_reason(vin, words):
    assert words in v.vin_problem(vin)


def test_imei_rules():
    assert v.imei_problem("490154203237518") is None
    assert "15 digits" in v.imei_problem("49015420323751")
    assert "15 digits" in v.imei_problem("49015420323751X")
    assert "Luhn" in v.imei_problem("490154203237519")


def test_luhn_complete_makes_valid_imeis():
    imei = v.luhn_complete("86123456789012")
    assert len(imei) == 15 and v.imei_problem(imei) is None


def test_smartcar_year():
    assert v.smartcar_year_problem(2016) is None
    assert "2016 or newer" in v.smartcar_year_problem(2015)
    assert "model year" in v.smartcar_year_problem(None)
