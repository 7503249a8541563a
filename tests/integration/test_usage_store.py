"""The usage store against moto: chunks and rollups change together, exactly, idempotently."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import rollup
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.store import pushed_events, usage

DAY = datetime(2026, 11, 1, tzinfo=UTC)
LEVELS = [("p", "d"), ("p", "m"), ("m", "d"), ("m", "m"), ("a", "d")]  # grain, period


@pytest.fixture
def ws(aws):
    return "ws_" + uuid.uuid4().hex[:12]


def cost(ws, amount, model="gpt-4o", day=DAY, project=None):
    return UsageRecord(ws, RecordKind.COST, "sync:c1", "openai", day, day + timedelta(days=1),
                       model=model, line_item=f"{model}, input", billed_cost=Decimal(amount), project=project)


def event(ws, eid, amount, feature="search", customer="cus_1", at=DAY):
    return UsageRecord(ws, RecordKind.EVENT, "push:k", "openai", at, at + timedelta(seconds=1), model="gpt-4o",
                       unit_type="tokens", units=Decimal(100), billed_cost=Decimal(amount), feature=feature,
                       customer=customer, idempotency_id=eid)


def totals(ws, grain="a", period="d"):
    rows = usage.stored_rollups(ws, grain, period)
    return sum((v.billed for v in rows.values()), Decimal(0)), sum(v.count for v in rows.values())


def test_resync_replaces_and_is_idempotent(ws):
    day = DAY.strftime("%Y-%m-%d")
    first = [cost(ws, "1.25"), cost(ws, "0.5", model="gpt-4o-mini")]
    assert usage.replace_sync_day(ws, "c1", day, first) is True
    for _ in range(3):
        assert usage.replace_sync_day(ws, "c1", day, first) is False
    assert totals(ws) == (Decimal("1.75"), 2)
    restated = [cost(ws, "1.40")]  # the mini line vanished, gpt-4o was corrected
    usage.replace_sync_day(ws, "c1", day, restated)
    assert totals(ws) == (Decimal("1.40"), 1)
    for grain, period in LEVELS:
        assert totals(ws, grain, period) == (Decimal("1.40"), 1)
    assert [r.billed_cost for r in usage.records(ws)] == [Decimal("1.40")]


def test_events_dedupe_across_batches(ws):
    r1 = pushed_events.add_events(ws, [event(ws, "a", "0.001"), event(ws, "b", "0.002")])
    assert sorted(r1.accepted) == ["a", "b"] and r1.duplicates == []
    r2 = pushed_events.add_events(ws, [event(ws, "b", "0.002"), event(ws, "c", "0.004")])
    assert r2.accepted == ["c"] and r2.duplicates == ["b"]
    assert totals(ws) == (Decimal("0.007"), 3)


def test_stale_version_is_detected_and_retried(ws, monkeypatch):
    """A writer that read the day's version before another writer committed must not commit."""
    pushed_events.add_events(ws, [event(ws, "first", "1")])
    real = usage._day_version
    calls = []

    def stale_then_real(workspace_id, day):
        calls.append(day)
        if len(calls) == 1:
            # someone else commits the same id between our read and our write
            monkeypatch.setattr(usage, "_day_version", real)
            pushed_events.add_events(ws, [event(ws, "second", "2")])
            monkeypatch.setattr(usage, "_day_version", stale_then_real)
            return real(workspace_id, day) - 1
        return real(workspace_id, day)

    monkeypatch.setattr(usage, "_day_version", stale_then_real)
    result = pushed_events.add_events(ws, [event(ws, "second", "2"), event(ws, "third", "3")])
    assert result.accepted == ["third"] and result.duplicates == ["second"]
    assert totals(ws) == (Decimal(6), 3)


def test_concurrent_overlapping_ingests_are_exact(ws):
    """Overlapping batches from four threads: each id is stored once (moto made atomic by
    devstack.moto_fixes, as DynamoDB is)."""
    batches = [[event(ws, f"e{i}", "0.0001") for i in range(start, start + 30)] for start in (0, 10, 20, 5)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: pushed_events.add_events(ws, b), batches))
    accepted = sorted(i for r in results for i in r.accepted)
    assert accepted == sorted(f"e{i}" for i in range(50))  # each id accepted exactly once
    assert totals(ws) == (Decimal("0.0050"), 50)


def test_rebuild_equals_incremental(ws):
    day = DAY.strftime("%Y-%m-%d")
    usage.replace_sync_day(ws, "c1", day, [cost(ws, "3.3", project="proj_a")])
    pushed_events.add_events(ws, [event(ws, f"x{i}", "0.01", customer=f"cus_{i % 3}") for i in range(20)])
    nxt = DAY + timedelta(days=1)
    pushed_events.add_events(ws, [event(ws, "late", "0.5", at=nxt)])
    levels = LEVELS
    incremental = {level: usage.stored_rollups(ws, *level) for level in levels}
    hourly = usage.hourly_rows(ws, date.min, date.max)
    assert incremental[("a", "d")] == rollup.rebuild(usage.records(ws))
    assert hourly == rollup.rebuild(usage.records(ws), rollup.hourly_key) and len(hourly) == 2
    assert usage.rebuild_rollups(ws) == 2
    for level in levels:
        assert usage.stored_rollups(ws, *level) == incremental[level], level
    assert usage.hourly_rows(ws, date.min, date.max) == hourly


def test_hourly_rows_follow_restated_and_vanished_sub_day_buckets(ws):
    """Hourly bills restated and dropped by re-syncs, with pushed events in the same hours: the
    hour items stay what a rebuild of the records gives, and a day's bill never lands on them."""
    day = DAY.strftime("%Y-%m-%d")

    def hour_bill(hour, amount):
        start = DAY + timedelta(hours=hour)
        return UsageRecord(ws, RecordKind.COST, "sync:c1", "openai", start, start + timedelta(hours=1),
                           model="gpt-4o", billed_cost=Decimal(amount))

    pushed_events.add_events(ws, [event(ws, f"h{i}", "0.5", at=DAY + timedelta(hours=i, minutes=5)) for i in range(3)])
    usage.replace_sync_day(ws, "c1", day, [hour_bill(0, "1.25"), hour_bill(1, "2"), cost(ws, "7")])
    usage.replace_sync_day(ws, "c1", day, [hour_bill(0, "1.5"), cost(ws, "7")])  # hour 1's bill vanished
    rows = usage.hourly_rows(ws, DAY.date(), DAY.date())
    assert rows == rollup.rebuild(usage.records(ws), rollup.hourly_key)
    bills = {k.day: v.billed for k, v in rows.items() if k.kind is RecordKind.COST}
    assert bills == {f"{day}T00": Decimal("1.5")}
    assert sorted(k.day for k in rows if k.kind is RecordKind.EVENT) == [f"{day}T0{h}" for h in range(3)]
    assert usage.hourly_rows(ws, DAY.date() + timedelta(days=1), DAY.date() + timedelta(days=1)) == {}


def test_rebuild_command_reports_a_repaired_drift(ws, capsys):
    from chalicelib.tools import rebuild_rollups

    pushed_events.add_events(ws, [event(ws, f"r{i}", "0.25") for i in range(4)])
    assert rebuild_rollups.main([ws]) == 0
    assert "rollups unchanged" in capsys.readouterr().out
    # corrupt one rollup value behind the store's back; the rebuild repairs it from the records
    import boto3

    db = boto3.client("dynamodb", region_name="us-east-1")
    sk = f"pd#{DAY.strftime('%Y-%m-%d')}"
    items = db.query(TableName=usage.rollups_table(), KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": ws}})["Items"]
    item = next(i for i in items if i["sk"]["S"].startswith(sk))
    name = next(n for n in item if n.startswith("b"))
    db.update_item(TableName=usage.rollups_table(), Key={"pk": item["pk"], "sk": item["sk"]},
                   UpdateExpression="SET #n = :v", ExpressionAttributeNames={"#n": name},
                   ExpressionAttributeValues={":v": {"N": "999"}})
    assert totals(ws, "p")[0] != Decimal("1.00")
    rebuild_rollups.main([ws])
    assert "REPAIRED pd" in capsys.readouterr().out
    assert totals(ws, "p") == (Decimal("1.00"), 4)


def _push_chunks(ws):
    import boto3

    db = boto3.client("dynamodb", region_name="us-east-1")
    items = db.query(TableName=usage.records_table(), KeyConditionExpression="pk = :p AND begins_with(sk, :r)",
                     ExpressionAttributeValues={":p": {"S": ws}, ":r": {"S": "rec#"}})["Items"]
    return [i["sk"]["S"] for i in items if "#push#" in i["sk"]["S"]]


def test_a_chunk_whose_transaction_failed_is_never_read_and_is_dropped(ws, monkeypatch):
    """Pushed chunks are put just before their transaction; one left by a failed attempt (a crash
    between the two) counts nowhere, and the rebuild command removes it."""
    from chalicelib.store import record_codec

    pushed_events.add_events(ws, [event(ws, "kept", "0.5")])
    orphan = f"rec#{DAY.strftime('%Y-%m-%d')}#push#orphan"
    usage._db().put_item(TableName=usage.records_table(), Item={
        "pk": {"S": ws}, "sk": {"S": orphan}, "blob": {"B": record_codec.encode([event(ws, "lost", "9")])},
        "n": {"N": "1"}})
    assert [r.idempotency_id for r in usage.records(ws)] == ["kept"]
    assert totals(ws) == (Decimal("0.5"), 1)
    usage.rebuild_rollups(ws)
    assert orphan not in _push_chunks(ws) and len(_push_chunks(ws)) == 1
    assert totals(ws) == (Decimal("0.5"), 1) and totals(ws, "p") == (Decimal("0.5"), 1)


def test_an_attempt_that_loses_a_race_drops_its_chunks_and_retries(ws, monkeypatch):
    real = usage.transact
    attempts = []

    def lose_once(items):
        attempts.append(len(items))
        if len(attempts) == 1:
            return False  # as if a condition failed: another writer got there first
        return real(items)

    monkeypatch.setattr(usage, "transact", lose_once)
    result = pushed_events.add_events(ws, [event(ws, f"r{i}", "0.25") for i in range(3)])
    assert sorted(result.accepted) == ["r0", "r1", "r2"] and len(attempts) == 2
    assert len(_push_chunks(ws)) == 1  # the first attempt's chunk is gone
    assert sorted(r.idempotency_id for r in usage.records(ws)) == ["r0", "r1", "r2"]
    assert totals(ws) == (Decimal("0.75"), 3)


def test_a_batch_over_every_hour_of_a_month_fits_its_transactions(ws):
    """Each day's hourly items count against the transaction's 100 items: a batch of an event an
    hour for 30 days is stored whole, and its hourly rows are the rebuild's."""
    batch = [event(ws, f"m{h}", "0.01", at=DAY + timedelta(hours=h)) for h in range(30 * 24)]
    assert len(pushed_events.add_events(ws, batch).accepted) == 30 * 24
    rows = usage.hourly_rows(ws, DAY.date(), DAY.date() + timedelta(days=29))
    assert len(rows) == 30 * 24 and rows == rollup.rebuild(usage.records(ws), rollup.hourly_key)
