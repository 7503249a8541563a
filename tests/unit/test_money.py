from decimal import Decimal

import pytest

from chalicelib.domain import money


def test_provider_money_shapes_parse_exactly():
    assert money.parse_decimal(0.2763408) == Decimal("0.2763408")  # OpenAI: JSON number dollars
    assert money.from_cents_string("123.864") == Decimal("1.23864")  # Anthropic: cents string
    assert money.parse_decimal("18.47250") == Decimal("18.4725")  # Twilio: dollars string
    assert money.from_minor_units(172, "usd") == Decimal("1.72")  # Stripe: integer cents
    assert money.from_minor_units(500, "jpy") == Decimal(500)
    assert money.from_minor_units(1234, "kwd") == Decimal("1.234")


@pytest.mark.parametrize("bad", [True, None, "abc", float("nan"), "Infinity", [1]])
def test_non_amounts_are_rejected(bad):
    with pytest.raises(money.MoneyError):
        money.parse_decimal(bad)


def test_sums_are_exact_or_raise():
    assert money.add(*[Decimal("0.0000001")] * 1000) == Decimal("0.0001")
    with pytest.raises(Exception):
        money.add(Decimal("1" + "0" * 40), Decimal("0.1"))  # would need more than 38 digits


def test_currency_and_rendering():
    assert money.normalize_currency("usd") == "USD"
    with pytest.raises(money.MoneyError):
        money.normalize_currency("xyz")
    assert money.to_str(Decimal("1.2300")) == "1.23"
    assert money.to_str(Decimal("0E-9")) == "0"
    assert money.to_str(Decimal("1E+3")) == "1000"
