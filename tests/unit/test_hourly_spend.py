"""Spend per UTC hour and provider from the hourly rollup rows: the larger of bill and events."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.hourly_spend import by_hour_and_provider
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind


def row(hour: str, kind: RecordKind, provider: str = "openai", currency: str = "USD") -> RollupKey:
    return RollupKey(f"2026-11-25T{hour}", kind, currency, provider)


def test_an_hour_is_the_larger_of_its_bill_and_its_events_per_provider():
    rows = {
        row("09", RecordKind.EVENT): RollupValues(billed=Decimal("0.5"), estimated=Decimal("0.25"), count=3),
        row("09", RecordKind.COST): RollupValues(billed=Decimal(2), count=1),  # the bill is larger
        row("10", RecordKind.EVENT): RollupValues(billed=Decimal(12), count=40),
        row("10", RecordKind.COST): RollupValues(billed=Decimal(1), estimated=Decimal(50), count=1),
        row("10", RecordKind.EVENT, "anthropic"): RollupValues(estimated=Decimal("0.1"), count=1),
        row("10", RecordKind.EVENT, currency="EUR"): RollupValues(billed=Decimal(7), count=1),
        row("11", RecordKind.EVENT): RollupValues(count=1),  # no spend: left out
    }
    assert by_hour_and_provider(rows, "USD") == {
        ("2026-11-25T09", "openai"): Decimal(2),
        ("2026-11-25T10", "openai"): Decimal(12),  # a bill's estimate is never spend
        ("2026-11-25T10", "anthropic"): Decimal("0.1"),
    }
    assert by_hour_and_provider(rows, "EUR") == {("2026-11-25T10", "openai"): Decimal(7)}
