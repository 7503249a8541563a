"""Rollup math: contributions, deltas, rebuilds and exact sums (the layout: test_rollup_layout.py)."""

from __future__ import annotations

import functools
import itertools
import operator
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

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


def test_delta_of_inserts_restatements_and_removals():
    a = rec(RecordKind.COST, billed_cost=Decimal("1.00"))
    b = rec(RecordKind.COST, billed_cost=Decimal("1.75"))
    key = rollup.contribution(a)[0]
    assert rollup.delta([], [a]) == {key: RollupValues(billed=Decimal("1.00"), count=1)}
    assert rollup.delta([a], [b]) == {key: RollupValues(billed=Decimal("0.75"))}  # restated: count unchanged
    assert rollup.delta([a], [a]) == {}
    assert rollup.delta([b], []) == {key: RollupValues(billed=Decimal("-1.75"), count=-1)}
    assert rollup.delta([], []) == {}
    moved = rec(RecordKind.COST, billed_cost=Decimal("1.00"), model="gpt-4o")  # a restated day re-attributes
    assert rollup.delta([a], [moved]) == {key: RollupValues(billed=Decimal("-1.00"), count=-1),
                                          rollup.contribution(moved)[0]: RollupValues(billed=Decimal("1.00"), count=1)}


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


def test_adding_the_deltas_of_restated_days_equals_rebuild():
    """What the store does on every write: ADD delta(old records, new records) onto the rows."""
    rng = random.Random(7)
    days: dict[int, list[UsageRecord]] = {}
    rows: rollup.Rows = {}
    for step in range(300):
        day = rng.randrange(6)
        old = days.get(day, [])
        if old and rng.random() < 0.2:
            new = []  # the day vanished
        else:
            new = [r for r in old if rng.random() < 0.7] + [random_record(rng, step * 100 + i) for i in range(3)]
        for key, values in rollup.delta(old, new).items():
            rows[key] = rows[key] + values if key in rows else values
        days[day] = new
    expected = rollup.rebuild(r for records in days.values() for r in records)
    assert {k: v for k, v in rows.items() if not v.is_zero()} == expected
    assert all(not v.is_zero() for v in rollup.delta(days[0], []).values())


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


def test_hourly_rows_hold_sub_day_spend_at_its_utc_hour():
    at = datetime(2025, 3, 10, 11, 15, tzinfo=timezone(timedelta(hours=1)))  # 10:15 UTC
    event = rec(at=at, billed_cost=Decimal("0.25"), units=Decimal(10), customer="cus_1")
    hour_bill = rec(RecordKind.COST, at=T0 + timedelta(hours=3), bucket_end=T0 + timedelta(hours=4),
                    billed_cost=Decimal(2))
    day_bill = rec(RecordKind.COST, billed_cost=Decimal(9))  # a day's bucket: daily only
    usage = rec(RecordKind.USAGE, at=T0 + timedelta(hours=3), bucket_end=T0 + timedelta(hours=4),
                unit_type="input_tokens", units=Decimal(5), estimated_cost=Decimal(1))  # never spend
    assert rollup.hourly_key(day_bill) is None and rollup.hourly_key(usage) is None
    rows = rollup.rebuild([event, hour_bill, day_bill, usage], rollup.hourly_key)
    assert rows == {
        RollupKey("2025-03-10T10", RecordKind.EVENT, "USD", "openai"): RollupValues(
            billed=Decimal("0.25"), units=Decimal(10), count=1),
        RollupKey("2025-03-10T03", RecordKind.COST, "USD", "openai"): RollupValues(billed=Decimal(2), count=1),
    }


def test_hourly_deltas_of_restated_and_deleted_records_equal_rebuild():
    """The hourly grain kept as the store keeps it (ADD of delta(old, new) per write) equals its
    rebuild, over inserts, restated records (same bucket, new amount) and vanished ones."""
    rng = random.Random(11)
    days: dict[int, list[UsageRecord]] = {}
    rows: rollup.Rows = {}

    def hour_bill(day: int, hour: int, amount: int) -> UsageRecord:
        start = T0 + timedelta(days=day, hours=hour)
        return rec(RecordKind.COST, at=start, bucket_end=start + timedelta(hours=1), billed_cost=Decimal(amount))

    for step in range(300):
        day = rng.randrange(4)
        old = days.get(day, [])
        if old and rng.random() < 0.2:
            new = []  # the day vanished
        else:
            restated = [hour_bill(day, rng.randrange(24), rng.randrange(1, 100)) for _ in range(2)]
            new = [r for r in old if rng.random() < 0.7 and r.kind is not RecordKind.COST] + restated + [
                random_record(rng, step * 100 + i) for i in range(3)]
        for key, values in rollup.delta(old, new, rollup.hourly_key).items():
            rows[key] = rows[key] + values if key in rows else values
        days[day] = new
    expected = rollup.rebuild((r for records in days.values() for r in records), rollup.hourly_key)
    assert expected and {k: v for k, v in rows.items() if not v.is_zero()} == expected
    assert {k.kind for k in expected} == {RecordKind.COST, RecordKind.EVENT}
    assert all(len(k.day) == 13 and k.model is None and k.project is None for k in expected)
