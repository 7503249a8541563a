"""Pushed events: an id is unique per workspace whatever its timestamp, checking it reads only the
batch's ids, and the monthly quota counts what is written this month (whatever the events' days),
never refusing a retry of what is already stored. Fixed clock."""

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


def test_checking_ids_reads_only_the_batch(api, user, key, monkeypatch):
    from chalicelib.store import usage

    push(key, [ev(i) for i in range(150)])
    real = usage._db()
    calls = []

    class Spy:
        def __getattr__(self, name):
            attr = getattr(real, name)
            if callable(attr):
                def wrapped(*args, **kwargs):
                    calls.append((name, kwargs.get("TableName") or next(iter(kwargs.get("RequestItems", {})), None)))
                    return attr(*args, **kwargs)
                return wrapped
            return attr

    monkeypatch.setattr(usage, "_db", lambda: Spy())
    result = push(key, [ev(i) for i in range(140, 160)])
    assert statuses(result) == ["duplicate"] * 10 + ["accepted"] * 10
    reads = [c for c in calls if c[0] in ("query", "scan") and c[1] == usage.records_table()]
    assert reads == []  # no day's ids are read back
    assert [c[0] for c in calls].count("batch_get_item") >= 1


def test_at_the_quota_a_retry_gets_duplicates_and_new_events_get_402(api, user, key):
    from chalicelib.store import usage

    first = [ev(i) for i in range(3)]
    assert statuses(push(key, first)) == ["accepted"] * 3
    # the month is full
    usage._db().put_item(TableName=usage.records_table(), Item={
        "pk": {"S": user.workspace_id}, "sk": {"S": usage.quota_key("2026-12")},
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
    from chalicelib.store import usage

    november = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert statuses(push(key, [ev(i, at=november) for i in range(4)] + [ev(9)])) == ["accepted"] * 5
    assert usage.events_this_month(user.workspace_id, NOW) == 5
    assert usage.events_this_month(user.workspace_id, november) == 0  # written in December
    assert billing_overview.overview(user.workspace_id, now=NOW.timestamp())["usage"]["events_per_month"]["used"] == 5


def test_parallel_pushes_never_pass_the_quota(api, user, key, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.store import usage

    usage._db().put_item(TableName=usage.records_table(), Item={
        "pk": {"S": user.workspace_id}, "sk": {"S": usage.quota_key("2026-12")},
        "n": {"N": str(FREE.limits.events_per_month - 10)}})

    def one(i):
        try:
            return statuses(push(key, [ev(f"p{i}-{j}") for j in range(4)])).count("accepted")
        except PlanLimitExceeded:
            return 0

    with ThreadPoolExecutor(6) as pool:
        accepted = sum(pool.map(one, range(6)))
    assert accepted == 8  # two batches of four fit in the ten left
    assert usage.events_written(user.workspace_id, "2026-12") == FREE.limits.events_per_month - 2
