"""Exact money: every amount is a ``Decimal`` in the major unit of its currency, never a float.

Providers report money in four different shapes; each gets one parser here so the quirk is
handled once, at the adapter boundary (DESIGN.md invariant 4). DynamoDB stores numbers as exact
decimals of up to 38 significant digits, so amounts round-trip without loss.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

# DynamoDB numbers carry 38 significant digits; arithmetic that would need more raises instead
# of rounding silently.
CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_EVEN,
                          traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])

ZERO = Decimal(0)

# ISO 4217 currencies without minor units (Stripe lists these as zero-decimal) and with three.
_ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
_THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
# Currencies we accept; any ISO 4217 code the providers we read may bill in.
KNOWN_CURRENCIES = frozenset(
    (
        "usd eur gbp jpy cad aud nzd chf sek nok dkk pln czk huf ron bgn inr brl mxn sgd hkd "
        "zar krw ils aed sar try thb myr idr php twd cny clp cop pen ars uah kwd bhd jod omr tnd "
        "vnd bif djf gnf kmf mga pyg rwf ugx vuv xaf xof xpf"
    ).split()
)


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def normalize_currency(code: str) -> str:
    """Upper-case ISO 4217 code; providers send ``usd`` (OpenAI, Twilio, Stripe) or ``USD``."""
    if not isinstance(code, str) or code.lower() not in KNOWN_CURRENCIES:
        raise MoneyError(f"unknown currency {code!r}")
    return code.upper()


def parse_decimal(value: object) -> Decimal:
    """A decimal from a JSON string, int or number, exactly as written.

    JSON numbers arrive as Python floats; ``str(float)`` gives the shortest repr that round-trips,
    which is the digits the provider wrote (``0.2763408`` -> ``Decimal('0.2763408')``).
    """
    if isinstance(value, bool):
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation as e:
            raise MoneyError(f"not an amount: {value!r}") from e
    else:
        raise MoneyError(f"not an amount: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return result


def from_cents_string(value: object) -> Decimal:
    """Anthropic's cost report: a decimal string in cents (``"123.45"`` is $1.2345)."""
    return CONTEXT.divide(parse_decimal(value), Decimal(100))


def from_minor_units(value: int, currency: str) -> Decimal:
    """Stripe: an integer in the currency's smallest unit (cents, or yen for JPY)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"minor units must be an integer, got {value!r}")
    code = currency.lower()
    exponent = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    return Decimal(value).scaleb(-exponent)


def add(*amounts: Decimal) -> Decimal:
    """Exact sum; raises rather than round if the total needs more than 38 digits."""
    total = ZERO
    for amount in amounts:
        total = CONTEXT.add(total, amount)
    return total


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.multiply(a, b)


def to_str(amount: Decimal) -> str:
    """The exact amount as a plain decimal string (no exponent), for JSON and CSV."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
