"""Insight rules fire on the situations they describe, and stay quiet otherwise."""

from datetime import date, timedelta
from decimal import Decimal

from chalicelib.engines.insights import (
    UsageRow,
    all_insights,
    cheaper_model,
    cost_concentration,
    fast_growth,
    new_costly_tag,
)

D0 = date(2024, 5, 1)
PRICES = {
    ("openai", "gpt-4o"): (Decimal("2.5"), Decimal(10)),
    ("openai", "gpt-4o-mini"): (Decimal("0.15"), Decimal("0.6")),
}


def price(provider, model):
    return PRICES.get((provider, model))


def rows(provider, model, cost, days=30, start=D0, **kw):
    return [
        UsageRow(start + timedelta(days=i), provider, Decimal(cost), model, **kw)
        for i in range(days)
    ]


def test_concentration_fires_over_80_percent_only():
    r = rows("openai", "gpt-4o", "9") + rows("anthropic", "claude", "1")
    found = cost_concentration(r)
    assert {(i.figures["dimension"], i.figures["name"]) for i in found} == {
        ("provider", "openai"),
        ("model", "gpt-4o"),
    }
    assert found[0].figures["cost"] == Decimal("270.00")
    assert (
        cost_concentration(
            rows("openai", "gpt-4o", "7") + rows("anthropic", "claude", "3")
        )
        == []
    )
    assert (
        cost_concentration(rows("openai", "gpt-4o", "0.1", days=3)) == []
    )  # too small to matter


def test_fast_growth():
    prev = rows("openai", "gpt-4o", "10", start=D0 - timedelta(days=30))
    now = rows("openai", "gpt-4o", "25")
    found = fast_growth(now, prev)
    assert found and found[0].kind == "fast_growth"
    assert found[0].figures["ratio"] == 2.5
    assert fast_growth(rows("openai", "gpt-4o", "11"), prev) == []
    tiny_prev = rows("openai", "gpt-4o", "0.01", start=D0 - timedelta(days=30))
    assert (
        fast_growth(rows("openai", "gpt-4o", "0.05"), tiny_prev) == []
    )  # 5x but pennies


def test_cheaper_model_with_saving():
    shape = {"input_tokens": 1_000_000, "output_tokens": 100_000, "requests": 1000}
    r = rows("openai", "gpt-4o", "3.5", **shape) + rows(
        "openai", "gpt-4o-mini", "0.21", **shape
    )
    found = cheaper_model(r, price)
    assert len(found) == 1
    ins = found[0]
    assert (
        ins.figures["model"] == "gpt-4o"
        and ins.figures["cheaper_model"] == "gpt-4o-mini"
    )
    # 30 days x (1M in x (2.5-0.15) + 0.1M out x (10-0.6)) / 1M = 30 x 3.29
    assert ins.figures["monthly_saving"] == Decimal("98.70")
    assert isinstance(ins.figures["monthly_saving"], Decimal)


def test_cheaper_model_quiet_when_shapes_differ_or_unknown_price():
    big = {"input_tokens": 50_000_000, "output_tokens": 5_000_000, "requests": 1000}
    small = {"input_tokens": 1_000_000, "output_tokens": 100_000, "requests": 1000}
    r = rows("openai", "gpt-4o", "100", **big) + rows(
        "openai", "gpt-4o-mini", "0.2", **small
    )
    assert cheaper_model(r, price) == []
    assert cheaper_model(r, lambda p, m: None) == []


def test_new_costly_tag():
    prev = rows("openai", "gpt-4o", "10", start=D0 - timedelta(days=30), project="web")
    now = rows("openai", "gpt-4o", "10", project="web") + rows(
        "openai", "gpt-4o", "5", project="agent"
    )
    found = new_costly_tag(now, prev)
    assert [(i.figures["dimension"], i.figures["name"]) for i in found] == [
        ("project", "agent")
    ]
    assert (
        new_costly_tag(
            now,
            prev
            + rows(
                "openai", "gpt-4o", "1", start=D0 - timedelta(days=30), project="agent"
            ),
        )
        == []
    )
    small = now[:30] + rows("openai", "gpt-4o", "0.1", project="toy")
    assert new_costly_tag(small, prev) == []


def test_all_insights_sorted_by_severity():
    prev = rows("openai", "gpt-4o", "10", start=D0 - timedelta(days=30))
    now = rows("openai", "gpt-4o", "40", project="agent")
    found = all_insights(now, prev, price)
    kinds = [i.kind for i in found]
    assert (
        "fast_growth" in kinds
        and "cost_concentration" in kinds
        and "new_costly_tag" in kinds
    )
    order = ["critical", "warning", "info"]
    assert [order.index(i.severity) for i in found] == sorted(
        order.index(i.severity) for i in found
    )
