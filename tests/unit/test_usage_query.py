"""Usage queries: attribution without double counting, periods, groups, filters, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import rollup
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.domain.usage_compute import run_query
from chalicelib.domain.usage_query import (
    MAX_RANGE_DAYS,
    UNATTRIBUTED,
    QueryError,
    UsageQuery,
    parse_query,
    period_start,
)

D1, D2 = "2025-03-10", "2025-03-11"
COST, USAGE, EVENT = RecordKind.COST, RecordKind.USAGE, RecordKind.EVENT


def rows_of(rows):
    """Rollup rows in the shape the store yields them: (day, key, values)."""
    return [(key.day, key, values) for key, values in rows.items()]


def row(
    day,
    kind,
    provider="openai",
    *,
    billed="0",
    estimated="0",
    units="0",
    count=1,
    currency="USD",
    **dims,
):
    key = RollupKey(day, kind, currency, provider, **dims)
    return (
        day,
        key,
        RollupValues(Decimal(billed), Decimal(estimated), Decimal(units), count),
    )


def q(start=D1, end=D2, granularity="day", group_by=(), filters=None):
    return UsageQuery(start, end, granularity, tuple(group_by), filters or {})


def by_group(result, period=None):
    """{group values tuple: point} for one period (or all periods if only one)."""
    points = [p for p in result.series if period is None or p.period.isoformat() == period]
    out = {}
    for p in points:
        k = tuple(v for _, v in p.group)
        assert k not in out, "one point per group and period"
        out[k] = p
    return out


def total(result, currency="USD"):
    [t] = [t for t in result.totals if t.currency == currency]
    return t


# A connected provider (openai: billed $10 on D1) with pushed events attributing part of it, an
# unconnected one (anthropic: events only), and synced usage that is never spend.
ROWS = [
    row(D1, COST, billed="10.00", model="gpt-4o", project="proj_openai_1"),
    row(
        D1,
        USAGE,
        estimated="9.50",
        units="1000000",
        model="gpt-4o",
        unit_type="input_tokens",
    ),
    row(
        D1,
        EVENT,
        billed="3.00",
        units="300",
        count=3,
        model="gpt-4o",
        project="checkout",
        feature="search",
        unit_type="tokens",
    ),
    row(
        D1,
        EVENT,
        estimated="2.00",
        units="200",
        count=2,
        model="gpt-4o",
        project="support",
        unit_type="tokens",
    ),
    row(
        D1,
        EVENT,
        billed="1.00",
        units="100",
        count=1,
        model="gpt-4o",
        unit_type="tokens",
    ),  # untagged
    row(
        D1,
        EVENT,
        "anthropic",
        billed="0.75",
        estimated="0.0000137",
        units="50",
        count=4,
        model="claude",
        project="checkout",
        unit_type="tokens",
    ),
]


def test_connected_provider_events_do_not_add_to_spend():
    result = run_query(ROWS, q(end=D1))
    t = total(result)
    assert t.spend == Decimal("10.7500137")  # openai bill + anthropic events, nothing else
    assert t.billed == Decimal("10.00") and t.estimated == Decimal("9.50")
    assert t.events == 10
    assert len(result.totals) == 1


def test_group_by_provider_bill_is_spend_events_only_for_unconnected():
    groups = by_group(run_query(ROWS, q(end=D1, group_by=["provider"])))
    assert groups[("openai",)].spend == Decimal("10.00")
    assert groups[("openai",)].events == 6
    assert groups[("anthropic",)].spend == Decimal("0.7500137")
    assert groups[("anthropic",)].billed == 0


def test_group_by_project_attributes_the_bill_and_reports_the_remainder():
    result = run_query(ROWS, q(end=D1, group_by=["provider", "project"]))
    groups = by_group(result)
    assert groups[("openai", "checkout")].spend == Decimal("3.00")
    assert groups[("openai", "support")].spend == Decimal("2.00")
    assert groups[("openai", None)].spend == Decimal("1.00")  # untagged events are not "unattributed"
    remainder = groups[("openai", UNATTRIBUTED)]
    assert remainder.unattributed and not remainder.over_attributed
    assert remainder.spend == Decimal("4.00") and remainder.billed == Decimal("10.00")
    assert remainder.estimated == Decimal("9.50") and remainder.units == Decimal(1000000)
    assert groups[("anthropic", "checkout")].spend == Decimal("0.7500137")
    assert ("anthropic", UNATTRIBUTED) not in groups
    assert total(result).spend == Decimal("10.7500137")  # same total as without grouping
    # shares of the bill
    openai = [p for p in result.series if dict(p.group)["provider"] == "openai"]
    assert sum(p.spend for p in openai) == Decimal("10.00")
    assert result.over_attributed == ()


def test_group_by_project_only_merges_the_remainder_across_providers():
    groups = by_group(run_query(ROWS, q(end=D1, group_by=["project"])))
    assert groups[("checkout",)].spend == Decimal("3.7500137")
    assert groups[(UNATTRIBUTED,)].spend == Decimal("4.00")
    assert groups[("checkout",)].events == 7


def test_filter_on_a_tag_hides_the_remainder_unless_asked_for():
    only = run_query(ROWS, q(end=D1, filters={"project": {"checkout"}}))
    assert total(only).spend == Decimal("3.7500137") and total(only).billed == 0
    with_rest = run_query(
        ROWS,
        q(
            end=D1,
            group_by=["project"],
            filters={"project": {"checkout", UNATTRIBUTED}},
        ),
    )
    groups = by_group(with_rest)
    assert set(groups) == {("checkout",), (UNATTRIBUTED,)}
    assert groups[(UNATTRIBUTED,)].spend == Decimal("4.00")  # remainder of the whole bill, not of the filter
    untagged = by_group(run_query(ROWS, q(end=D1, group_by=["project"], filters={"project": {None}})))
    assert set(untagged) == {(None,)} and untagged[(None,)].spend == Decimal("1.00")


def test_feature_and_customer_group_by():
    groups = by_group(run_query(ROWS, q(end=D1, group_by=["feature"], filters={"provider": {"openai"}})))
    assert groups[("search",)].spend == Decimal("3.00")
    assert groups[(None,)].spend == Decimal("3.00")
    assert groups[(UNATTRIBUTED,)].spend == Decimal("4.00")
    assert sum(p.spend for p in groups.values()) == Decimal("10.00")


def test_events_over_the_bill_leave_a_negative_remainder_and_are_flagged():
    rows = [
        row(D1, COST, billed="5"),
        row(D1, EVENT, billed="7", project="a"),
        row(D1, EVENT, billed="1", currency="EUR", project="a"),
    ]
    result = run_query(rows, q(end=D1, group_by=["project"]))
    groups = {(p.currency, dict(p.group)["project"]): p for p in result.series}
    assert (
        groups[("USD", UNATTRIBUTED)].spend == Decimal(-2) and groups[("USD", UNATTRIBUTED)].over_attributed
    )
    assert total(result).spend == Decimal(5)
    assert total(result, "EUR").spend == Decimal(0)  # EUR events attribute a USD bill: -1 EUR remainder
    flagged = {(o.currency, o.provider): o for o in result.over_attributed}
    assert flagged[("USD", "openai")].remainder == Decimal(-2)
    assert flagged[("EUR", "openai")].remainder == Decimal(-1)
    assert [o["remainder"] for o in result.to_json()["over_attributed"]] == [
        "-1",
        "-2",
    ]  # EUR, USD
    # also reported when the query does not attribute
    assert run_query(rows, q(end=D1)).over_attributed == result.over_attributed


def test_a_day_without_a_bill_counts_its_events():
    rows = [
        row(D1, COST, billed="10"),
        row(D1, EVENT, billed="4"),
        row(D2, EVENT, billed="3"),
    ]
    days = by_group_period(run_query(rows, q()))
    assert days[D1].spend == Decimal(10) and days[D2].spend == Decimal(3)  # D2 not synced yet


def by_group_period(result):
    return {p.period.isoformat(): p for p in result.series}


def test_usage_rows_are_never_spend():
    rows = [row(D1, USAGE, "openai", estimated="100", units="5", unit_type="output_tokens")]
    result = run_query(rows, q(end=D1))
    assert (
        total(result).spend == 0
        and total(result).estimated == Decimal(100)
        and total(result).units == Decimal(5)
    )


def test_money_is_exact_decimal_strings_with_currency():
    rows = [
        row(D1, EVENT, "x", billed="0.1"),
        row(D1, EVENT, "x", billed="0.2"),
        row(D1, EVENT, "x", billed="5", currency="EUR"),
    ]
    body = run_query(rows, q(end=D1)).to_json()
    assert body["totals"] == [
        {
            "currency": "EUR",
            "spend": "5",
            "state": "final",
            "provisional_spend": "0",
            "billed": "0",
            "estimated": "0",
            "units": "0",
            "events": 1,
        },
        {
            "currency": "USD",
            "spend": "0.3",
            "state": "final",
            "provisional_spend": "0",
            "billed": "0",
            "estimated": "0",
            "units": "0",
            "events": 2,
        },
    ]
    assert {s["currency"] for s in body["series"]} == {"USD", "EUR"}
    assert body["series"][0]["group"] == {}


def test_week_buckets_are_iso_weeks_in_utc():
    rows = [
        row("2025-03-09", EVENT, billed="1"),
        row("2025-03-10", EVENT, billed="2"),
        row("2025-03-16", EVENT, billed="4"),
        row("2025-03-17", EVENT, billed="8"),
    ]
    result = run_query(rows, q("2025-03-05", "2025-03-17", "week"))
    assert [p.isoformat() for p in result.periods] == [
        "2025-03-03",
        "2025-03-10",
        "2025-03-17",
    ]
    assert {p.period.isoformat(): p.spend for p in result.series} == {
        "2025-03-03": 1,
        "2025-03-10": 6,
        "2025-03-17": 8,
    }
    assert period_start(date(2025, 1, 1), "week") == date(2024, 12, 30)  # ISO week 1 of 2025


def test_month_buckets_and_range_clipping():
    rows = [
        row("2025-01-31", EVENT, billed="1"),
        row("2025-02-01", EVENT, billed="2"),
        row("2025-02-28", EVENT, billed="4"),
        row("2025-03-01", EVENT, billed="8"),
        row("2025-03-02", EVENT, billed="16"),
    ]
    result = run_query(rows, q("2025-01-31", "2025-03-01", "month"))
    assert [p.isoformat() for p in result.periods] == [
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
    ]
    assert {p.period.isoformat(): p.spend for p in result.series} == {
        "2025-01-01": 1,
        "2025-02-01": 6,
        "2025-03-01": 8,
    }
    dec = run_query([row("2024-12-31", EVENT, billed="1")], q("2024-12-01", "2025-01-31", "month"))
    assert [p.isoformat() for p in dec.periods] == ["2024-12-01", "2025-01-01"]


def test_records_through_rollups_to_days_in_utc():
    """Times near midnight in other zones land on their UTC day."""
    tz = __import__("zoneinfo").ZoneInfo("America/Los_Angeles")
    at = datetime(2025, 3, 10, 20, 0, tzinfo=tz)  # 2025-03-11 03:00 UTC
    record = UsageRecord(
        "w",
        EVENT,
        "push:x",
        "openai",
        at,
        at + timedelta(seconds=1),
        billed_cost=Decimal(2),
        idempotency_id="e",
    )
    result = run_query(rows_of(rollup.rebuild([record])), q())
    assert [p.period.isoformat() for p in result.series] == [D2]


def test_group_by_several_dimensions_and_filter_values():
    rows = [
        row(
            D1,
            USAGE,
            estimated="1",
            units="10",
            model="a",
            unit_type="input_tokens",
            api_key="key_1",
        ),
        row(
            D1,
            USAGE,
            estimated="2",
            units="20",
            model="a",
            unit_type="output_tokens",
            api_key="key_1",
        ),
        row(
            D1,
            USAGE,
            estimated="4",
            units="40",
            model="b",
            unit_type="input_tokens",
            api_key="key_2",
        ),
        row(
            D1,
            USAGE,
            "anthropic",
            estimated="8",
            units="80",
            model="c",
            unit_type="input_tokens",
        ),
    ]
    groups = by_group(
        run_query(
            rows,
            q(
                end=D1,
                group_by=["model", "unit_type"],
                filters={"provider": {"openai"}},
            ),
        )
    )
    assert {k: p.units for k, p in groups.items()} == {
        ("a", "input_tokens"): 10,
        ("a", "output_tokens"): 20,
        ("b", "input_tokens"): 40,
    }
    keyed = by_group(
        run_query(
            rows,
            q(end=D1, group_by=["api_key"], filters={"unit_type": {"input_tokens"}}),
        )
    )
    assert {k: p.estimated for k, p in keyed.items()} == {
        ("key_1",): 1,
        ("key_2",): 4,
        (None,): 8,
    }


def test_rows_outside_the_range_are_ignored():
    rows = [
        row("2025-03-09", EVENT, billed="1"),
        row(D1, EVENT, billed="2"),
        row("2025-03-12", EVENT, billed="4"),
    ]
    assert total(run_query(rows, q())).spend == Decimal(2)


def test_no_rows_give_no_series_and_no_totals():
    result = run_query([], q())
    assert result.series == () and result.totals == () and len(result.periods) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"group_by": ["colour"]}, "group_by"),
        ({"group_by": ["model", "model"]}, "group_by"),
        ({"filters": {"colour": {"x"}}}, "colour"),
        ({"filters": {"model": set()}}, "model"),
        ({"filters": {"model": {str(i) for i in range(101)}}}, "model"),
        ({"start": "2025-03-12"}, "from"),
        ({"start": "2023-03-11"}, "to"),  # 732 days
        ({"granularity": "hour"}, "granularity"),
        ({"start": "2025-3-1"}, "from"),
        ({"end": "20250311"}, "to"),
        ({"end": "2025-02-30"}, "to"),
        ({"end": None}, "to"),
    ],
)
def test_invalid_queries_name_the_field(kwargs, field):
    with pytest.raises(QueryError) as info:
        q(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_longest_allowed_range():
    end = date(2025, 3, 10)
    longest = q(end - timedelta(days=MAX_RANGE_DAYS - 1), end)
    assert (longest.end - longest.start).days + 1 == MAX_RANGE_DAYS == 731
    with pytest.raises(QueryError):
        q(end - timedelta(days=MAX_RANGE_DAYS), end)


def test_parse_query_from_query_string_parameters():
    query = parse_query(
        {
            "from": "2025-03-01",
            "to": "2025-03-31",
            "granularity": "Week",
            "group_by": "provider, project",
            "provider": "openai,anthropic",
            "project": ["checkout", ""],
            "format": "csv",
        }
    )
    assert query.start == date(2025, 3, 1) and query.end == date(2025, 3, 31) and query.granularity == "week"
    assert query.group_by == ("provider", "project")
    assert query.filters == {
        "provider": {"openai", "anthropic"},
        "project": {"checkout", None},
    }
    assert query.attribution
    assert parse_query({"from": "2025-03-01", "to": "2025-03-01"}).granularity == "day"
    for params, field in [
        ({"to": "2025-03-01"}, "from"),
        ({"from": "2025-03-01", "to": "2025-03-01", "sort": "x"}, "sort"),
        ({"from": "2025-03-01", "to": "2025-03-01", "group_by": "team"}, "group_by"),
    ]:
        with pytest.raises(QueryError) as info:
            parse_query(params)
        assert info.value.field == field


def test_pushed_events_for_a_connected_provider_leave_totals_unchanged_end_to_end():
    from chalicelib.domain.ingest import parse_events

    start = datetime(2025, 3, 10, tzinfo=UTC)
    bill = UsageRecord(
        "w",
        COST,
        "sync:c1",
        "openai",
        start,
        start + timedelta(days=1),
        model="gpt-4o",
        billed_cost=Decimal("42.123456"),
    )
    events = [
        {
            "id": f"e{i}",
            "timestamp": f"2025-03-10T{i % 24:02d}:00:00Z",
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1000,
            "output_tokens": 100,
            "cost": "0.0137",
            "project": ["a", "b", "c"][i % 3],
        }
        for i in range(300)
    ] + [
        {
            "id": "x",
            "timestamp": "2025-03-10T05:00:00Z",
            "provider": "mistral",
            "units": 1,
            "unit_type": "requests",
            "cost": "0.5",
            "project": "a",
        }
    ]
    outcomes = parse_events(
        {"events": events},
        workspace_id="w",
        source="push:k",
        now=start + timedelta(hours=12),
        estimate_cost=None,
    )
    pushed = [o.record for o in outcomes]
    assert all(pushed)
    query = q(end=D1, group_by=["project"])
    before = run_query(rows_of(rollup.rebuild([bill])), query)
    after = run_query(rows_of(rollup.rebuild([bill, *pushed])), query)
    assert total(before).spend == Decimal("42.123456")
    assert total(after).spend == Decimal("42.123456") + Decimal("0.5")  # only the unconnected provider adds
    shares = {dict(p.group)["project"]: p.spend for p in after.series}
    assert shares == {
        "a": Decimal(100) * Decimal("0.0137") + Decimal("0.5"),
        "b": Decimal("1.37"),
        "c": Decimal("1.37"),
        UNATTRIBUTED: Decimal("42.123456") - Decimal("4.11"),
    }
