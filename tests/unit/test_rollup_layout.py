"""The rollup layout in DynamoDB (store/rollup_layout.py): row keys, sort keys, ADD updates,
per-chunk fine rows and the ranges a query reads."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import rollup
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind
from chalicelib.store import rollup_layout as layout
from tests.unit.test_rollup import T0, random_record


@pytest.mark.parametrize(
    "key",
    [
        RollupKey("2025-03-10", RecordKind.COST, "USD", "openai"),
        RollupKey(
            "2025-03-10",
            RecordKind.USAGE,
            "EUR",
            "anthropic",
            "claude",
            "proj|x",
            None,
            None,
            "key\\1",
            "input_tokens",
        ),
        RollupKey(
            "2025-03-10",
            RecordKind.EVENT,
            "USD",
            "openai",
            None,
            None,
            None,
            "cus_42",
            None,
            "tokens",
        ),
        RollupKey(
            "2025-03-10",
            RecordKind.EVENT,
            "JPY",
            "p",
            "a|b\\|c",
            "é",
            "|",
            "\\",
            "k",
            "u",
        ),
    ],
)
def test_key_encoding_round_trips(key):
    text = layout.encode_row_key(key)
    assert layout.decode_row_key(key.day, text) == key


def test_key_encoding_is_compact():
    key = RollupKey("2025-03-10", RecordKind.COST, "USD", "openai", "gpt-4o")
    assert layout.encode_row_key(key) == "c|USD|openai|gpt-4o"
    event = RollupKey(
        "2025-03-10",
        RecordKind.EVENT,
        "USD",
        "openai",
        "gpt-4o-mini",
        "checkout",
        "search",
        "cus_42",
        None,
        "tokens",
    )
    assert layout.encode_row_key(event) == "e|USD|openai|gpt-4o-mini|checkout|search|cus_42||tokens"


@pytest.mark.parametrize("text", ["", "x|USD|openai", "c|USD", "c|USD|p|1|2|3|4|5|6|7", "c|USD|p\\"])
def test_bad_row_keys_are_refused(text):
    with pytest.raises(ValueError):
        layout.decode_row_key("2025-03-10", text)


def test_add_updates_of_each_write_read_back_as_the_rebuilt_rows():
    """What the store ADDs per write (item_updates of the write's delta) and reads back
    (rows_from_item), over inserts and removals, equals a rebuild at every provider-side level;
    the fine grain's per-chunk blob round-trips."""
    rng = random.Random(3)
    records = [random_record(rng, i) for i in range(300)]
    stored: dict[str, dict[str, Decimal]] = {}
    for old, new in [([], records[i:i + 30]) for i in range(0, 300, 30)] + [(records[:50], [])]:
        for sk, updates in layout.item_updates(rollup.delta(old, new)).items():
            item = stored.setdefault(sk, {})
            for name, amount in updates.items():
                item[name] = item.get(name, Decimal(0)) + amount
    expected = rollup.rebuild(records[50:])
    for grain, period in [("p", "d"), ("p", "m"), ("m", "d"), ("m", "m")]:
        read: rollup.Rows = {}
        for sk, attrs in stored.items():
            if sk.startswith(layout.prefix(grain, period) + "#"):
                for key, values in layout.rows_from_item(sk, {"pk": "ws_1", "sk": sk, "v": 3, **attrs}).items():
                    read[key] = read[key] + values if key in read else values
        assert read == layout.regrain(expected, grain, period), (grain, period)
    assert {sk[:2] for sk in stored} == {"pd", "pm", "md", "mm"}
    assert {sk.rsplit("#", 1)[1] for sk in stored if sk.startswith("md#")} == {"0", "1"}  # two shards
    one_day = {key: values for key, values in expected.items() if key.day == "2025-03-10"}
    assert one_day and layout.fine_rows("2025-03-10", layout.fine_blob(one_day)) == one_day


def test_regrain_and_grain_choice():
    rows = rollup.rebuild([random_record(random.Random(9), i) for i in range(200)])
    coarse = layout.regrain(rows, "p", "m")
    assert {k.day for k in coarse} == {"2025-03-01"}
    assert all(k.model is None and k.project is None and k.customer is None for k in coarse)
    assert sum(v.count for v in coarse.values()) == 200
    assert layout.grain_for([]) == "p" and layout.grain_for(["provider"]) == "p"
    assert layout.grain_for(["model", "unit_type"]) == "m"
    assert layout.grain_for(["provider", "customer"]) == "a"
    with pytest.raises(ValueError):
        layout.grain_for(["colour"])


def test_sort_keys():
    assert layout.sort_key("2025-03-10") == "pd#2025-03-10"
    assert layout.sort_key("2025-03-10", "a") == "af#2025-03-10"
    assert layout.sort_key("2025-03-10", "p", "m") == "pm#2025-03"
    assert layout.parse_sort_key("pm#2025-03#0") == ("2025-03-01", "p", "m")
    assert layout.parse_sort_key("af#2025-03-10#push#abc") == ("2025-03-10", "a", "d")
    for bad in ("xd#2025-03-10", "pd2025-03-10", "pd#2025-13-01", "am#2025-03"):
        with pytest.raises(ValueError):
            layout.parse_sort_key(bad)
    with pytest.raises(ValueError):
        layout.sort_key("2025-03-10", "a", "m")  # the fine grain has no month items


def test_read_ranges():
    from datetime import date

    assert layout.read_ranges(date(2025, 1, 1), date(2025, 12, 31), "day", ["provider"]) == [
        ("pd#2025-01-01", "pd#2025-12-31")
    ]
    assert layout.read_ranges(date(2025, 1, 15), date(2025, 4, 10), "month", ["model"]) == [
        ("md#2025-01-15", "md#2025-01-31"),
        ("mm#2025-02", "mm#2025-03"),
        ("md#2025-04-01", "md#2025-04-10"),
    ]
    # the every-dimension grain has day items only (see layout.MONTH_GRAINS)
    assert layout.read_ranges(date(2025, 1, 15), date(2025, 4, 10), "month", ["project"]) == [
        ("af#2025-01-15", "af#2025-04-10")
    ]
    assert layout.read_ranges(date(2025, 1, 1), date(2025, 12, 31), "month", []) == [
        ("pm#2025-01", "pm#2025-12")
    ]
    assert layout.read_ranges(date(2025, 2, 3), date(2025, 2, 20), "month", ["model"]) == [
        ("md#2025-02-03", "md#2025-02-20")
    ]


def typical_day(day: str) -> rollup.Rows:
    """A small team: 2 providers x 4 models of cost and usage (4 unit types), 5 projects x 4
    features of events."""
    rows: rollup.Rows = {}
    for provider in ("openai", "anthropic"):
        for model in ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4", "o3"):
            rows[RollupKey(day, RecordKind.COST, "USD", provider, model)] = RollupValues(
                billed=Decimal("12.345678"), count=1
            )
            for unit in (
                "input_tokens",
                "output_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
            ):
                rows[
                    RollupKey(
                        day,
                        RecordKind.USAGE,
                        "USD",
                        provider,
                        model,
                        "proj_abc123",
                        unit_type=unit,
                    )
                ] = RollupValues(estimated=Decimal("3.1415926"), units=Decimal(123456789), count=1)
        for project in ("checkout", "search", "support", "onboarding", "reports"):
            for feature in ("summarise", "classify", "chat", "embed"):
                rows[
                    RollupKey(
                        day,
                        RecordKind.EVENT,
                        "USD",
                        provider,
                        "gpt-4o-mini",
                        project,
                        feature,
                        None,
                        None,
                        "tokens",
                    )
                ] = RollupValues(estimated=Decimal("0.0123456"), units=Decimal(98765), count=321)
    return rows


def item_bytes(attrs: dict[str, Decimal]) -> int:
    # DynamoDB item size: UTF-8 name bytes + about 1 byte per 2 significant digits + 1 per number,
    # plus PK/SK
    return (
        sum(
            len(n.encode()) + (len(str(v).replace(".", "").replace("-", "")) + 1) // 2 + 1
            for n, v in attrs.items()
        )
        + 40
    )


def test_a_year_of_typical_items_read_budget():
    rows: rollup.Rows = {}
    fine_bytes = 0
    for i in range(365):
        day = typical_day(date_of(i).isoformat())
        rows |= day
        fine_bytes += len(layout.fine_blob(day)) + 40  # one chunk a day, as the store writes it
    sizes: dict[str, int] = {}
    for sk, attrs in layout.item_updates(rows).items():
        sizes[sk[:2]] = sizes.get(sk[:2], 0) + item_bytes(attrs)
    sizes["af"] = fine_bytes
    rcu = {level: -(-total // 4096) * 0.5 for level, total in sizes.items()}  # Query: summed, eventual
    assert rcu["pd"] < 100  # a daily year by provider
    assert rcu["pm"] < 10 and rcu["mm"] < 100  # a monthly year at the provider-side grains
    assert rcu["md"] > 100  # a daily year by model does not fit: month items are what keeps it small
    assert rcu["af"] < 100, rcu  # the compressed per-chunk fine rows of a daily year


def date_of(i: int):
    return (T0 + timedelta(days=i)).date()


def test_hourly_add_updates_read_back_as_the_rebuilt_hourly_rows():
    """Hourly rows ADDed per write into one ``ph#<day>#<block>`` item per 6 hours with data, and
    read back (rows_from_item) as the hourly rebuild; ``hourly_range`` spans a day's items."""
    rng = random.Random(5)
    records = [random_record(rng, i) for i in range(300)]
    stored: dict[str, dict[str, Decimal]] = {}
    for old, new in [([], records[i:i + 30]) for i in range(0, 300, 30)] + [(records[:50], [])]:
        for sk, updates in layout.hourly_updates(rollup.delta(old, new, rollup.hourly_key)).items():
            item = stored.setdefault(sk, {})
            for name, amount in updates.items():
                item[name] = item.get(name, Decimal(0)) + amount
    read: rollup.Rows = {}
    for sk, attrs in stored.items():
        read.update(layout.rows_from_item(sk, {"pk": "ws_1", "sk": sk, **attrs}))
    assert read == rollup.rebuild(records[50:], rollup.hourly_key)
    assert {sk.rsplit("#", 1)[1] for sk in stored} == {"0", "1", "2", "3"} and len(stored) <= 5 * 4
    assert layout.hourly_item("2025-03-10T05") == "ph#2025-03-10#0" and layout.hourly_item("2025-03-10T18") == (
        "ph#2025-03-10#3")
    low, high = layout.hourly_range(T0.date(), T0.date())
    assert {low <= sk <= high for sk in stored if sk[3:13] == "2025-03-10"} == {True}
    assert not any(low <= sk <= high for sk in stored if sk[3:13] != "2025-03-10")
