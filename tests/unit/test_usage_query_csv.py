"""The usage query result as CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from chalicelib.domain.csv_export import filename, usage_csv
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind
from chalicelib.domain.usage_compute import run_query
from chalicelib.domain.usage_query import UNATTRIBUTED, UsageQuery

D1 = "2025-03-10"


def row(kind, billed="0", estimated="0", units="0", count=1, currency="USD", **dims):
    return (
        D1,
        RollupKey(D1, kind, currency, "openai", **dims),
        RollupValues(Decimal(billed), Decimal(estimated), Decimal(units), count),
    )


ROWS = [
    row(RecordKind.COST, billed="10.000000001"),
    row(RecordKind.EVENT, billed="0.1", units="12", count=2, project="checkout"),
    row(RecordKind.EVENT, estimated="0.0000137", units="3", project='=HYPERLINK("x")'),
    row(RecordKind.EVENT, billed="5", currency="EUR", project='eu, "quoted"'),
]


def parse(text):
    return list(csv.reader(io.StringIO(text)))


def test_csv_header_rows_and_exact_decimals():
    result = run_query(ROWS, UsageQuery(D1, D1, "day", ("provider", "project")))
    text = usage_csv(result)
    assert text.endswith("\r\n")
    table = parse(text)
    assert table[0] == [
        "period",
        "provider",
        "project",
        "currency",
        "spend",
        "billed",
        "estimated",
        "units",
        "events",
        "state",
        "provisional_spend",
    ]
    body = {(r[2], r[3]): r for r in table[1:]}
    assert body[("checkout", "USD")] == [
        D1,
        "openai",
        "checkout",
        "USD",
        "0.1",
        "0",
        "0",
        "12",
        "2",
        "final",
        "0",
    ]
    assert body[('\'=HYPERLINK("x")', "USD")][4] == "0.0000137"  # formula neutralised, amount exact
    assert body[(UNATTRIBUTED, "USD")][4:6] == ["9.899986301", "10.000000001"]
    # EUR events of a provider billed in USD: their share shows, and the EUR remainder goes negative
    assert body[('eu, "quoted"', "EUR")][4] == "5"
    assert body[(UNATTRIBUTED, "EUR")][4] == "-5"
    assert len(table) == 1 + len(result.series)
    # the CSV carries the same numbers as the JSON
    json_spend = sorted(p["spend"] for p in result.to_json()["series"])
    assert sorted(r[4] for r in table[1:]) == json_spend


def test_csv_without_groups_and_negative_numbers_untouched():
    rows = [
        row(RecordKind.COST, billed="1"),
        row(RecordKind.EVENT, billed="3", project="a"),
    ]
    table = parse(usage_csv(run_query(rows, UsageQuery(D1, D1, "day", ("project",)))))
    assert [r[1:3] for r in table[1:]] == [["a", "USD"], [UNATTRIBUTED, "USD"]]
    assert table[2][3] == "-2"
    table = parse(usage_csv(run_query(rows, UsageQuery(D1, D1))))
    assert table == [
        ["period", "currency", "spend", "billed", "estimated", "units", "events", "state", "provisional_spend"],
        [D1, "USD", "1", "1", "0", "0", "1", "final", "0"],
    ]


def test_filename():
    result = run_query([], UsageQuery(D1, "2025-03-31", "week"))
    assert filename(result, "ws/1") == "usage-ws_1-2025-03-10-2025-03-31-week.csv"
