"""Provisional spend: a provider-day whose bill may still grow reads the larger of the bill so far
and the pushed events; once final, the bill is the spend. Fixed clocks throughout."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain import finality
from chalicelib.domain.csv_export import usage_csv
from chalicelib.domain.reconcile import canonical_model
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind
from chalicelib.domain.usage_compute import run_query
from chalicelib.domain.usage_query import UNATTRIBUTED, UsageQuery

COST, USAGE, EVENT = RecordKind.COST, RecordKind.USAGE, RecordKind.EVENT
D1, D2, D3 = "2026-11-09", "2026-11-10", "2026-11-11"  # Mon, Tue, Wed
# Thursday afternoon: OpenAI's Monday is final (2 days after its end), Tuesday and Wednesday are not
NOW = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 14, 0, 0, tzinfo=UTC)  # every day above final for every provider


def row(day, kind, provider="openai", *, billed="0", estimated="0", units="0", count=1, currency="USD", **dims):
    return (day, RollupKey(day, kind, currency, provider, **dims),
            RollupValues(Decimal(billed), Decimal(estimated), Decimal(units), count))


def q(start=D1, end=D3, granularity="day", group_by=(), filters=None):
    return UsageQuery(start, end, granularity, tuple(group_by), filters or {})


def points(result, period=None):
    return {tuple(v for _, v in p.group): p for p in result.series
            if period is None or p.period.isoformat() == period}


# a partial bill (5.69) and larger pushed events (12.92), as on the demo stack
TODAY = [
    row(D3, COST, billed="5.69", model="gpt-4o-mini-2024-07-18"),
    row(D3, EVENT, estimated="12.92", units="29000", count=29, model="gpt-4o-mini", feature="search"),
]


def test_finality_rules_per_provider_with_a_fixed_clock():
    monday = date(2026, 11, 9)
    assert finality.final_at("openai", monday) == datetime(2026, 11, 12, tzinfo=UTC)
    assert finality.final_at("anthropic", monday) == datetime(2026, 11, 11, tzinfo=UTC)
    assert finality.final_at("someone-else", monday) == datetime(2026, 11, 12, tzinfo=UTC)
    assert not finality.is_final("openai", monday, datetime(2026, 11, 11, 23, 59, 59, tzinfo=UTC))
    assert finality.is_final("openai", monday, datetime(2026, 11, 12, tzinfo=UTC))
    assert finality.is_final("anthropic", monday, NOW)
    assert finality.state("openai", monday, NOW) == "final"
    assert finality.state("openai", date(2026, 11, 10), NOW) == "provisional"
    assert finality.first_provisional_day(NOW) == date(2026, 11, 10)
    with pytest.raises(ValueError):
        finality.is_final("openai", monday, datetime(2026, 11, 12))


def test_dated_model_names_match_their_alias():
    assert canonical_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert canonical_model("claude-3-5-haiku-20241022") == "claude-3-5-haiku"
    assert canonical_model("Claude-3-5-Sonnet-latest") == "claude-3-5-sonnet"
    assert canonical_model("gpt-4o") == "gpt-4o" and canonical_model(None) is None


def test_partial_bill_below_events_reads_the_events_as_provisional_spend():
    result = run_query(TODAY, q(D3, D3), now=NOW)
    [total] = result.totals
    assert (total.spend, total.billed, total.state, total.provisional_spend) == (
        Decimal("12.92"), Decimal("5.69"), "provisional", Decimal("12.92"))
    by_model = points(run_query(TODAY, q(D3, D3, group_by=("model",)), now=NOW))
    assert by_model[("gpt-4o-mini",)].spend == Decimal("12.92")
    assert by_model[("gpt-4o-mini-2024-07-18",)].spend == 0  # the bill so far is covered by the events
    assert by_model[("gpt-4o-mini-2024-07-18",)].billed == Decimal("5.69")
    assert {p.state for p in by_model.values()} == {"provisional"}
    by_feature = points(run_query(TODAY, q(D3, D3, group_by=("feature",)), now=NOW))
    assert by_feature[("search",)].spend == Decimal("12.92")
    assert by_feature[(UNATTRIBUTED,)].spend == 0 and not by_feature[(UNATTRIBUTED,)].over_attributed
    assert result.over_attributed == ()
    assert [p.to_json() for p in result.provisional] == [
        {"day": D3, "provider": "openai", "final_at": "2026-11-14T00:00:00+00:00"}]


def test_once_final_the_bill_is_the_spend_and_the_excess_is_over_attributed_with_its_cause():
    result = run_query(TODAY, q(D3, D3, group_by=("feature",)), now=LATER)
    [total] = result.totals
    assert (total.spend, total.state, total.provisional_spend) == (Decimal("5.69"), "final", 0)
    assert points(result)[(UNATTRIBUTED,)].spend == Decimal("-7.23")
    [over] = result.over_attributed
    assert (over.billed, over.attributed, over.remainder) == (Decimal("5.69"), Decimal("12.92"), Decimal("-7.23"))
    assert over.causes[0].code == "catalogue_prices_above_bill"  # all of it is catalogue estimates
    assert result.to_json()["over_attributed"][0]["likely_causes"][0]["code"] == "catalogue_prices_above_bill"
    assert result.provisional == ()


def test_events_reporting_more_tokens_than_the_provider_counted_point_at_duplicates():
    rows = [row(D1, COST, billed="2", model="gpt-4o"),
            row(D1, USAGE, estimated="2", units="1000", model="gpt-4o", unit_type="input_tokens"),
            row(D1, EVENT, billed="3", units="2000", count=2, model="gpt-4o", unit_type="tokens")]
    [over] = run_query(rows, q(D1, D1), now=NOW).over_attributed
    assert [c.code for c in over.causes] == ["events_pushed_twice", "key_outside_tagged_code"]


def test_a_bill_above_the_events_is_the_spend_and_the_events_attribute_it():
    rows = [row(D3, COST, billed="20", model="gpt-4o-mini-2024-07-18"),
            row(D3, EVENT, estimated="12.92", model="gpt-4o-mini", feature="search")]
    by_feature = points(run_query(rows, q(D3, D3, group_by=("feature",)), now=NOW))
    assert by_feature[("search",)].spend == Decimal("12.92")
    assert by_feature[(UNATTRIBUTED,)].spend == Decimal("7.08")
    assert run_query(rows, q(D3, D3), now=NOW).totals[0].spend == Decimal(20)


def test_bill_and_events_compare_per_model_where_both_name_it_and_over_the_rest_otherwise():
    rows = [
        row(D3, COST, billed="5", model="gpt-4o-2024-08-06"), row(D3, EVENT, billed="3", model="gpt-4o"),
        row(D3, COST, billed="1", model="gpt-4o-mini-2024-07-18"), row(D3, EVENT, billed="4", model="gpt-4o-mini"),
        row(D3, COST, billed="2", model="o3"), row(D3, COST, billed="0.5"),  # only billed
        row(D3, EVENT, billed="1", model="gpt-4.1"),  # only pushed
    ]
    # gpt-4o: bill 5; gpt-4o-mini: events 4; the rest: bill 2.5 against events 1
    result = run_query(rows, q(D3, D3), now=NOW)
    assert result.totals[0].spend == Decimal("11.5")
    by_model = points(run_query(rows, q(D3, D3, group_by=("model",)), now=NOW))
    assert sum(p.spend for p in by_model.values()) == Decimal("11.5")
    assert by_model[("gpt-4o-mini",)].spend == 4 and by_model[("gpt-4o-mini-2024-07-18",)].spend == 0
    assert by_model[("gpt-4.1",)].spend == 0 and by_model[("o3",)].spend == 2
    # a filter does not change which side is the spend
    only_mini = run_query(rows, q(D3, D3, filters={"model": frozenset({"gpt-4o-mini"})}), now=NOW)
    assert only_mini.totals[0].spend == 4


def test_totals_over_a_range_add_final_and_provisional_days():
    rows = [
        row(D1, COST, billed="10", model="gpt-4o"), row(D1, EVENT, billed="4", model="gpt-4o"),  # final
        row(D2, COST, billed="1", model="gpt-4o"), row(D2, EVENT, billed="6", model="gpt-4o"),  # provisional
        *TODAY,
        row(D1, COST, "anthropic", billed="3", model="claude-3-5-haiku-20241022"),  # final
        row(D1, EVENT, "anthropic", billed="9", model="claude-3-5-haiku"),
        row(D3, COST, "anthropic", billed="2", model="claude-3-5-haiku-20241022"),  # provisional
        row(D3, EVENT, "anthropic", billed="1", model="claude-3-5-haiku"),
    ]
    result = run_query(rows, q(), now=NOW)
    [total] = result.totals
    assert total.spend == Decimal(10) + Decimal(3) + Decimal(6) + Decimal("12.92") + Decimal(2)
    assert total.provisional_spend == Decimal(6) + Decimal("12.92") + Decimal(2)
    assert total.state == "provisional"
    daily = {p.period.isoformat(): p for p in run_query(rows, q(group_by=()), now=NOW).series}
    assert (daily[D1].spend, daily[D1].state) == (Decimal(13), "final")
    assert (daily[D2].spend, daily[D2].provisional_spend, daily[D2].state) == (Decimal(6), Decimal(6),
                                                                                "provisional")
    by_provider = run_query(rows, q(group_by=("provider",)), now=NOW)
    assert {p.state for p in by_provider.series if p.period.isoformat() == D1} == {"final"}
    assert {p.state for p in by_provider.series if p.period.isoformat() > D1} == {"provisional"}
    weekly = run_query(rows, q(granularity="week"), now=NOW)
    assert [(p.spend, p.provisional_spend) for p in weekly.series] == [(total.spend, total.provisional_spend)]
    assert [(o.provider, o.period.isoformat()) for o in weekly.over_attributed] == [("anthropic", D1)]
    assert sum(p.spend for p in result.series) == total.spend
    body = result.to_json()["totals"][0]
    assert (body["state"], body["provisional_spend"]) == ("provisional", "20.92")


def test_csv_carries_the_state_of_each_row():
    rows = [row(D1, COST, billed="10", model="gpt-4o"), *TODAY]
    table = [line.split(",") for line in usage_csv(run_query(rows, q(), now=NOW)).strip().split("\r\n")]
    assert table[0][-2:] == ["state", "provisional_spend"]
    assert [(r[0], r[2], r[-2], r[-1]) for r in table[1:]] == [
        (D1, "10", "final", "0"), (D3, "12.92", "provisional", "12.92")]
    later = [line.split(",") for line in usage_csv(run_query(rows, q(), now=LATER)).strip().split("\r\n")]
    assert [(r[2], r[-2]) for r in later[1:]] == [("10", "final"), ("5.69", "final")]
