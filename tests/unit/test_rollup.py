"""Rollup math: contributions, deltas, rebuilds, exact sums and the compact item encoding."""

from __future__ import annotations

import functools
import itertools
import operator
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import rollup
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind, UsageRecord

T0 = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)


def rec(kind=RecordKind.EVENT, *, at=T0, **fields) -> UsageRecord:
    defaults = {
        "workspace_id": "ws_1",
        "kind": kind,
        "source": "push:cpk_live_abc" if kind is RecordKind.EVENT else "sync:conn_1",
        "provider": "openai",
        "bucket_start": at,
        "bucket_end": at + (timedelta(seconds=1) if kind is RecordKind.EVENT else timedelta(days=1)),
        "model": "gpt-4o-mini",
    }
    if kind is RecordKind.EVENT:
        defaults |= {"idempotency_id": "evt_1", "unit_type": "tokens"}
    return UsageRecord(**(defaults | fields))


def test_contribution_of_each_kind():
    key, values = rollup.contribution(rec(RecordKind.COST, billed_cost=Decimal("1.25"), project="proj_a"))
    assert key == RollupKey("2025-03-10", RecordKind.COST, "USD", "openai", "gpt-4o-mini", "proj_a")
    assert values == RollupValues(billed=Decimal("1.25"), count=1)
    key, values = rollup.contribution(
        rec(
            RecordKind.USAGE,
            unit_type="input_tokens",
            units=Decimal(1000),
            estimated_cost=Decimal("0.15"),
        )
    )
    assert key.unit_type == "input_tokens" and values == RollupValues(
        estimated=Decimal("0.15"), units=Decimal(1000), count=1
    )
    key, values = rollup.contribution(
        rec(
            feature="search",
            customer="cus_1",
            units=Decimal(10),
            estimated_cost=Decimal("0.001"),
        )
    )
    assert (key.kind, key.feature, key.customer, key.unit_type) == (
        RecordKind.EVENT,
        "search",
        "cus_1",
        "tokens",
    )


def test_day_is_the_utc_day_of_the_bucket_start():
    late = datetime(2025, 3, 10, 23, 30, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert rollup.contribution(rec(at=late))[0].day == "2025-03-10"


def test_empty_strings_and_none_are_the_same_dimension_value():
    assert rollup.contribution(rec(project=""))[0] == rollup.contribution(rec(project=None))[0]


def test_delta_insert_update_delete_and_moves():
    a = rec(RecordKind.COST, billed_cost=Decimal("1.00"))
    b = rec(RecordKind.COST, billed_cost=Decimal("1.75"))
    key = rollup.contribution(a)[0]
    assert rollup.delta(None, a) == {key: RollupValues(billed=Decimal("1.00"), count=1)}
    assert rollup.delta(a, b) == {
        key: RollupValues(billed=Decimal("0.75"))
    }  # restated bucket: count unchanged
    assert rollup.delta(a, a) == {}
    assert rollup.delta(b, None) == {key: RollupValues(billed=Decimal("-1.75"), count=-1)}
    assert rollup.delta(None, None) == {}


def test_delta_refuses_two_different_records():
    with pytest.raises(ValueError):
        rollup.delta(rec(idempotency_id="a"), rec(idempotency_id="b"))
    with pytest.raises(ValueError):
        rollup.delta(rec(), rec(workspace_id="other"))


def random_record(rng: random.Random, i: int, kind: RecordKind | None = None) -> UsageRecord:
    kind = kind or rng.choice(list(RecordKind))
    day = T0 + timedelta(days=rng.randrange(5), hours=rng.randrange(24))
    common = {
        "at": day,
        "provider": rng.choice(["openai", "anthropic"]),
        "model": rng.choice(["m1", "m2", None]),
        "currency": rng.choice(["USD", "USD", "EUR"]),
        "project": rng.choice(["p1", "p2", None]),
    }
    cents = Decimal(rng.randrange(0, 10**7)).scaleb(-9)
    if kind is RecordKind.COST:
        return rec(kind, billed_cost=cents, **common)
    if kind is RecordKind.USAGE:
        return rec(
            kind,
            unit_type=rng.choice(["input_tokens", "output_tokens"]),
            units=Decimal(rng.randrange(10**6)),
            estimated_cost=cents,
            **common,
        )
    cost = {"billed_cost": cents} if rng.random() < 0.5 else {"estimated_cost": cents}
    return rec(
        kind,
        idempotency_id=f"e{i}",
        feature=rng.choice(["f1", None]),
        customer=rng.choice(["c1", "c2", None]),
        units=Decimal(rng.randrange(5000)),
        **cost,
        **common,
    )


def test_applying_deltas_of_inserts_updates_and_deletes_equals_rebuild():
    rng = random.Random(7)
    store: dict[str, UsageRecord] = {}
    rows: rollup.Rows = {}
    for step in range(3000):
        if store and rng.random() < 0.35:
            old = store[rng.choice(sorted(store))]
            if rng.random() < 0.3:
                new = None  # delete
            else:  # restatement: same key, new values (a re-sync never adds)
                new = UsageRecord(
                    **{
                        **{f: getattr(old, f) for f in old.__dataclass_fields__},
                        "billed_cost": old.billed_cost and old.billed_cost + Decimal("0.000001"),
                        "units": old.units + 1,
                    }
                )
        else:
            old, new = None, random_record(rng, step)
            old = store.get(new.record_key())
        rows = rollup.apply(rows, rollup.delta(old, new))
        key = (old or new).record_key()
        if new is None:
            store.pop(key)
        else:
            store[key] = new
    assert rows == rollup.rebuild(store.values())
    assert all(not v.is_zero() for v in rows.values())


def test_rebuild_of_a_million_tiny_events_is_exact():
    # 1,000 distinct events of fractions of a cent, each seen 1,000 times. rebuild() sums every
    # record it is given (the store guarantees one record per key), so repeating the objects is a
    # cheap stand-in for a million distinct events without paying for a million constructions.
    tiny = Decimal("0.0000137")
    templates = [
        rec(
            idempotency_id=f"e{i}",
            at=T0 + timedelta(seconds=i),
            customer=f"c{i % 10}",
            estimated_cost=tiny + Decimal(i).scaleb(-10),
            units=Decimal(i % 7),
        )
        for i in range(1000)
    ]
    rows = rollup.rebuild(itertools.chain.from_iterable(itertools.repeat(templates, 1000)))
    expected_nanos_tenths = 1000 * sum(137000 + i for i in range(1000))  # in units of 1e-10
    total = sum((v.estimated for v in rows.values()), Decimal(0))
    assert total == Decimal(expected_nanos_tenths).scaleb(-10) == Decimal("13.7499500")
    assert sum(v.count for v in rows.values()) == 1_000_000
    assert sum(v.units for v in rows.values()) == 1000 * sum(i % 7 for i in range(1000))
    assert len(rows) == 10
    # what floats would have given: the same million additions, one after another, drift off the
    # exact total (reduce, not sum(): sum() compensates since Python 3.12)
    floats = [float(t.estimated_cost) for t in templates]
    float_total = functools.reduce(operator.add, itertools.chain.from_iterable(itertools.repeat(floats, 1000)))
    assert float_total != 13.74995 and abs(float_total - 13.74995) < 1e-9
    # how long rebuild takes is a figure, not an assertion: python -m bench.rollup_bench


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
    text = rollup.encode_row_key(key)
    assert rollup.decode_row_key(key.day, text) == key
    assert rollup.decode_key(rollup.encode_key(key)) == key


def test_key_encoding_is_compact():
    key = RollupKey("2025-03-10", RecordKind.COST, "USD", "openai", "gpt-4o")
    assert rollup.encode_row_key(key) == "c|USD|openai|gpt-4o"
    assert rollup.encode_key(key) == "2025-03-10|c|USD|openai|gpt-4o"
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
    assert rollup.encode_row_key(event) == "e|USD|openai|gpt-4o-mini|checkout|search|cus_42||tokens"


@pytest.mark.parametrize("text", ["", "x|USD|openai", "c|USD", "c|USD|p|1|2|3|4|5|6|7", "c|USD|p\\"])
def test_bad_row_keys_are_refused(text):
    with pytest.raises(ValueError):
        rollup.decode_row_key("2025-03-10", text)


def test_item_attributes_round_trip_and_add_semantics():
    rng = random.Random(3)
    records = [random_record(rng, i) for i in range(300)]
    rows = rollup.rebuild(records)
    items = rollup.to_item_attributes(rows)
    assert set(items) == {f"ad#{k.day}" for k in rows}
    decoded = {}
    for sk, attrs in items.items():
        assert all(v != 0 for v in attrs.values())  # zeros are not stored
        decoded |= rollup.rows_from_item(sk, {"PK": "ws#ws_1", "SK": sk, **attrs})
    assert decoded == rows
    # DynamoDB ADD of each delta onto the stored attributes gives the same rows as a rebuild,
    # in every grain and period
    stored: dict[str, dict[str, Decimal]] = {}
    for r in records:
        for sk, updates in rollup.item_updates(rollup.delta(None, r)).items():
            item = stored.setdefault(sk, {})
            for name, amount in updates.items():
                item[name] = item.get(name, Decimal(0)) + amount
    for r in records[:50]:  # then delete some: rows may linger as zeros, and are skipped on read
        for sk, updates in rollup.item_updates(rollup.delta(r, None)).items():
            for name, amount in updates.items():
                stored[sk][name] += amount
    expected = rollup.rebuild(records[50:])
    for grain in rollup.GRAINS:
        for period in rollup.PERIODS:
            if period == "m" and grain not in rollup.MONTH_GRAINS:
                assert not any(sk.startswith(grain + period + "#") for sk in stored)
                continue
            read = {}
            for sk, attrs in stored.items():
                if sk.startswith(grain + period + "#"):
                    read |= rollup.rows_from_item(sk, attrs)
            assert read == rollup.regrain(expected, grain, period), (grain, period)
    assert {sk[:2] for sk in stored} == {"pd", "pm", "md", "mm", "ad"}


def test_merged_delta_of_a_batch_equals_the_sum_of_single_deltas():
    rng = random.Random(5)
    records = [random_record(rng, i, RecordKind.EVENT) for i in range(200)]
    merged = rollup.merge(*(rollup.delta(None, r) for r in records))
    assert merged == rollup.rebuild(records)


def test_regrain_and_grain_choice():
    rows = rollup.rebuild([random_record(random.Random(9), i) for i in range(200)])
    coarse = rollup.regrain(rows, "p", "m")
    assert {k.day for k in coarse} == {"2025-03-01"}
    assert all(k.model is None and k.project is None and k.customer is None for k in coarse)
    assert sum(v.count for v in coarse.values()) == 200
    assert rollup.grain_for([]) == "p" and rollup.grain_for(["provider"]) == "p"
    assert rollup.grain_for(["model", "unit_type"]) == "m"
    assert rollup.grain_for(["provider", "customer"]) == "a"
    with pytest.raises(ValueError):
        rollup.grain_for(["colour"])


def test_sort_keys():
    assert rollup.sort_key("2025-03-10") == "ad#2025-03-10"
    assert rollup.sort_key("2025-03-10", "p", "m") == "pm#2025-03"
    assert rollup.parse_sort_key("pm#2025-03") == ("2025-03-01", "p", "m")
    assert rollup.parse_sort_key("ad#2025-03-10") == ("2025-03-10", "a", "d")
    for bad in ("xd#2025-03-10", "ad2025-03-10", "ad#2025-13-01"):
        with pytest.raises(ValueError):
            rollup.parse_sort_key(bad)


def test_read_ranges():
    from datetime import date

    assert rollup.read_ranges(date(2025, 1, 1), date(2025, 12, 31), "day", ["provider"]) == [
        ("pd#2025-01-01", "pd#2025-12-31")
    ]
    assert rollup.read_ranges(date(2025, 1, 15), date(2025, 4, 10), "month", ["model"]) == [
        ("md#2025-01-15", "md#2025-01-31"),
        ("mm#2025-02", "mm#2025-03"),
        ("md#2025-04-01", "md#2025-04-10"),
    ]
    # the every-dimension grain has day items only (see rollup.MONTH_GRAINS)
    assert rollup.read_ranges(date(2025, 1, 15), date(2025, 4, 10), "month", ["project"]) == [
        ("ad#2025-01-15", "ad#2025-04-10")
    ]
    assert rollup.read_ranges(date(2025, 1, 1), date(2025, 12, 31), "month", []) == [
        ("pm#2025-01", "pm#2025-12")
    ]
    assert rollup.read_ranges(date(2025, 2, 3), date(2025, 2, 20), "month", ["model"]) == [
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
    rows = {}
    for i in range(365):
        rows |= typical_day((date_of(i)).isoformat())
    rcu = {}
    for grain in rollup.GRAINS:
        for period in rollup.PERIODS:
            items = rollup.to_item_attributes(rows, grain, period)
            total = sum(item_bytes(a) for a in items.values())
            rcu[grain + period] = -(-total // 4096) * 0.5  # Query: summed size, eventually consistent
    assert rcu["pd"] < 100  # a daily year by provider
    assert rcu["pm"] < 10 and rcu["mm"] < 100  # a monthly year at the provider-side grains
    assert rcu["ad"] > 100  # the full daily detail of this team does not fit: see the module doc


def date_of(i: int):
    return (T0 + timedelta(days=i)).date()
