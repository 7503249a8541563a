"""Pushed events: an id is unique per workspace whatever its timestamp (old per-id markers included),
checking it reads only the id index buckets of the batch's ids, a batch writes its ids in a few small
items, and the monthly quota counts what is written this month (whatever the events' days), never
refusing a retry of what is already stored. Fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.plans import FREE, PlanLimitExceeded

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def key(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "backend"}, token=user.token)
    assert r.status == 201, r.body
    return r.json


def ev(i, at=NOW - timedelta(minutes=5), cost="0.01"):
    return {"id": f"evt-{i}", "timestamp": at.isoformat(), "provider": "openai", "model": "gpt-4o-mini",
            "input_tokens": 100, "output_tokens": 10, "cost": cost}


def push(key, events, now=NOW):
    from chalicelib.services import ingestion

    body = json.dumps({"events": events}).encode()
    return ingestion.ingest_batch({"authorization": f"Bearer {key['key']}"}, body, now=now)


def statuses(result):
    return [e["status"] for e in result["events"]]


def test_the_same_id_with_another_days_timestamp_is_a_duplicate(api, user, key):
    assert statuses(push(key, [ev(1)])) == ["accepted"]
    again = push(key, [ev(1, at=NOW - timedelta(days=3)), ev(1, at=NOW - timedelta(days=40))])
    assert statuses(again) == ["duplicate", "duplicate"]
    assert statuses(push(key, [ev(2), ev(2, at=NOW - timedelta(days=1))])) == ["accepted", "duplicate"]


class Spy:
    """The store's DynamoDB client, recording each call's name and arguments."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __getattr__(self, name):
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def wrapped(*args, **kwargs):
            self.calls.append((name, kwargs))
            return attr(*args, **kwargs)
        return wrapped


def test_checking_ids_reads_only_the_id_index_of_the_batchs_buckets(api, user, key, monkeypatch):
    from chalicelib.store import event_ids, usage

    push(key, [ev(i) for i in range(150)])
    spy = Spy(usage._db())
    monkeypatch.setattr(usage, "_db", lambda: spy)
    result = push(key, [ev(i) for i in range(140, 142)] + [ev(i) for i in range(150, 152)])
    assert statuses(result) == ["duplicate"] * 2 + ["accepted"] * 2
    reads = [kw for name, kw in spy.calls if name in ("query", "scan", "batch_get_item")
             and kw.get("TableName") == usage.records_table()]
    buckets = {event_ids.bucket(event_ids.fingerprint(f"evt-{i}")) for i in (140, 141, 150, 151)}
    # one Query per bucket of the batch's ids, of the index only: no record chunk, no other bucket
    assert sorted((kw["ExpressionAttributeValues"][":a"]["S"], kw["ExpressionAttributeValues"][":b"]["S"])
                  for kw in reads) == sorted(event_ids.bucket_range(b) for b in buckets)
    assert all(kw["ConsistentRead"] and kw["ExpressionAttributeValues"][":a"]["S"].startswith("eid#") for kw in reads)


def test_a_batch_writes_its_ids_in_a_few_small_items_in_one_transaction(api, user, key, monkeypatch):
    from chalicelib.store import event_ids, usage

    spy = Spy(usage._db())
    monkeypatch.setattr(usage, "_db", lambda: spy)
    assert statuses(push(key, [ev(i) for i in range(500)])) == ["accepted"] * 500
    transactions = [kw["TransactItems"] for name, kw in spy.calls if name == "transact_write_items"]
    assert len(transactions) == 1
    puts = [t["Put"]["Item"] for t in transactions[0] if "Put" in t]
    index = [item for item in puts if item["sk"]["S"].startswith("eid#")]
    assert len(index) == event_ids.BUCKETS == 2  # one per bucket, not one per event
    assert sum(len(item["h"]["B"]) for item in index) == 500 * 10


def test_ids_stored_as_old_style_markers_stay_duplicates(api, user, key):
    """Events stored before the id index had one ``eid#<hash>`` marker each; no migration needed."""
    import hashlib

    from chalicelib.store import usage

    for i in (7, 8):
        usage._db().put_item(TableName=usage.records_table(), Item={
            "pk": {"S": user.workspace_id}, "day": {"S": "2026-11-30"},
            "sk": {"S": "eid#" + hashlib.sha256(f"evt-{i}".encode()).hexdigest()[:32]}})
    assert statuses(push(key, [ev(7), ev(9), ev(8, at=NOW - timedelta(days=20))])) == [
        "duplicate", "accepted", "duplicate"]
    assert statuses(push(key, [ev(9)])) == ["duplicate"]


def test_a_batch_retried_across_a_month_boundary_counts_once(api, user, key):
    from chalicelib.store import pushed_events

    late = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    batch = [ev(i, at=late - timedelta(minutes=1)) for i in range(5)]
    assert statuses(push(key, batch, now=late)) == ["accepted"] * 5
    january = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert statuses(push(key, batch, now=january)) == ["duplicate"] * 5
    assert pushed_events.events_written(user.workspace_id, "2026-12") == 5
    assert pushed_events.events_written(user.workspace_id, "2027-01") == 0


def test_at_the_quota_a_retry_gets_duplicates_and_new_events_get_402(api, user, key):
    from chalicelib.store import pushed_events, usage

    first = [ev(i) for i in range(3)]
    assert statuses(push(key, first)) == ["accepted"] * 3
    # the month is full
    usage._db().put_item(TableName=usage.records_table(), Item={
        "pk": {"S": user.workspace_id}, "sk": {"S": pushed_events.quota_key("2026-12")},
        "n": {"N": str(FREE.limits.events_per_month)}})
    assert statuses(push(key, first)) == ["duplicate"] * 3
    with pytest.raises(PlanLimitExceeded):
        push(key, [*first, ev(99)])
    assert statuses(push(key, first)) == ["duplicate"] * 3  # the refused batch stored nothing
    # a new month starts afresh
    assert statuses(push(key, [ev(99, at=datetime(2027, 1, 1, 0, 5, tzinfo=UTC))],
                         now=datetime(2027, 1, 1, 0, 10, tzinfo=UTC))) == ["accepted"]


def test_events_dated_in_an_earlier_month_count_against_this_months_quota(api, user, key):
    from chalicelib.services import billing_overview
    from chalicelib.store import pushed_events

    november = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert statuses(push(key, [ev(i, at=november) for i in range(4)] + [ev(9)])) == ["accepted"] * 5
    assert pushed_events.events_this_month(user.workspace_id, NOW) == 5
    assert pushed_events.events_this_month(user.workspace_id, november) == 0  # written in December
    assert billing_overview.overview(user.workspace_id, now=NOW.timestamp())["usage"]["events_per_month"]["used"] == 5


def test_parallel_pushes_never_pass_the_quota(api, user, key, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.store import pushed_events, usage

    usage._db().put_item(TableName=usage.records_table(), Item={
        "pk": {"S": user.workspace_id}, "sk": {"S": pushed_events.quota_key("2026-12")},
        "n": {"N": str(FREE.limits.events_per_month - 10)}})

    def one(i):
        try:
            return statuses(push(key, [ev(f"p{i}-{j}") for j in range(4)])).count("accepted")
        except PlanLimitExceeded:
            return 0

    with ThreadPoolExecutor(6) as pool:
        accepted = sum(pool.map(one, range(6)))
    assert accepted == 8  # two batches of four fit in the ten left
    assert pushed_events.events_written(user.workspace_id, "2026-12") == FREE.limits.events_per_month - 2
