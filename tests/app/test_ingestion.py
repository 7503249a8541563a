"""Pushed usage over HTTP: ingest keys, bearer and HMAC auth, per-event outcomes, idempotency,
bad input, usage queries and CSV, and attribution against a connected provider's bill."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import signatures
from tests.app import moment

# One instant per test, read once (never at import): events are stamped with it and queries ask for
# its own UTC day, so a test running across midnight (or started long after collection) still finds
# what it pushed. The app reads the clock itself; AT is 5 minutes back, well inside its windows.
AT = datetime.min.replace(tzinfo=UTC)  # placeholders: _moment sets both for each test
DAY = ""


@pytest.fixture(autouse=True)
def _moment(monkeypatch):
    moment.pin(monkeypatch, globals(), "AT", "DAY", minutes_back=5)


@pytest.fixture
def key(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "backend"}, token=user.token)
    assert r.status == 201, r.body
    return r.json


def push(api, key, events, **headers):
    h = {"Authorization": f"Bearer {key['key']}", **headers}
    return api.call("POST", "/api/webhooks/provider-usage", body=json.dumps({"events": events}), headers=h)


def ev(i, cost="0.0021", **kw):
    return {"id": f"evt-{i}", "timestamp": AT.isoformat(), "provider": "openai",
            "model": "gpt-4o-mini", "input_tokens": 1200, "output_tokens": 300, "cost": cost,
            "feature": "search", "customer": "cus_1", **kw}


def usage(api, user, query=""):
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={DAY}&to={DAY}{query}", token=user.token)
    assert r.status == 200, r.body
    return r.json


def test_keys_are_shown_once_listed_by_prefix_and_admin_only(api, user, key):
    assert key["key"].startswith("cpk_live_") and key["signing_secret"].startswith("cpsig_")
    listed = api.get(f"/api/workspaces/{user.workspace_id}/ingest-keys", token=user.token)
    assert key["key"] not in listed.text and key["signing_secret"] not in listed.text
    assert listed.json["ingest_keys"][0]["prefix"] == key["key"][:16]
    member = api.new_user("member")
    api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": member.email}, token=user.token)
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "x"}, token=member.token)
    assert r.status == 403


def test_push_query_csv_and_push_again_changes_nothing(api, user, key):
    events = [ev(1), ev(2, cost="0.0100", feature="chat"), ev(3, cost=0.1)]
    r = push(api, key, events)
    assert r.status == 200, r.body
    assert r.json["summary"] == {"accepted": 3, "duplicate": 0, "rejected": 0}
    first = usage(api, user, "&group_by=feature")
    assert first["timezone"] == "UTC"
    assert first["totals"][0]["spend"] == "0.1121" and first["totals"][0]["currency"] == "USD"
    by_feature = {p["group"]["feature"]: p["spend"] for p in first["series"]}
    assert by_feature == {"chat": "0.01", "search": "0.1021"}
    again = push(api, key, events)
    assert again.json["summary"] == {"accepted": 0, "duplicate": 3, "rejected": 0}
    assert usage(api, user, "&group_by=feature") == first
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={DAY}&to={DAY}&group_by=feature&format=csv",
                token=user.token)
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted((row["feature"], row["spend"]) for row in rows) == [("chat", "0.01"), ("search", "0.1021")]


def test_signed_requests(api, user, key):
    body = json.dumps({"events": [ev("signed")]}).encode()
    now = int(time.time())
    header = signatures.sign([key["signing_secret"]], body, now, key_id=key["signing_kid"])
    r = api.call("POST", "/api/webhooks/provider-usage", body=body, headers={signatures.SIGNATURE_HEADER: header})
    assert r.status == 200 and r.json["summary"]["accepted"] == 1
    stale = signatures.sign([key["signing_secret"]], body, now - 400, key_id=key["signing_kid"])
    altered = body.replace(b"0.0021", b"0.0001")
    forged = signatures.sign(["cpsig_not-the-secret-" + "x" * 40], body, now, key_id=key["signing_kid"])
    for raw, h in ((body, stale), (altered, header), (body, forged), (body, "t=1,v1=zz")):
        r = api.call("POST", "/api/webhooks/provider-usage", body=raw, headers={signatures.SIGNATURE_HEADER: h})
        assert r.status == 401, (h, r.body)
    r = api.call("POST", "/api/webhooks/provider-usage", body=body)
    assert r.status == 401 and "Bearer" in r.json["error"]["message"]


def test_revoked_keys_are_refused(api, user, key):
    r = api.delete(f"/api/workspaces/{user.workspace_id}/ingest-keys/{key['key_id']}", token=user.token)
    assert r.status == 200 and r.json["revoked"]
    r = push(api, key, [ev("after-revoke")])
    assert r.status == 401 and "revoked" in r.json["error"]["message"]


@pytest.mark.parametrize("bad,field", [
    ({"input_tokens": -5}, "input_tokens"),
    ({"cost": "10000000"}, "cost"),
    ({"cost": "abc"}, "cost"),
    ({"currency": "XYZ"}, "currency"),
    ({"timestamp": "two days ahead"}, "timestamp"),  # resolved in the test, from its own instant
    ({"timestamp": "2001-01-01T00:00:00Z"}, "timestamp"),
    ({"metadata": {"prompt": "tell me a secret"}}, "metadata.prompt"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_events_are_rejected_with_the_field_and_write_nothing(api, user, key, bad, field):
    if bad.get("timestamp") == "two days ahead":
        bad = {"timestamp": (AT + timedelta(days=2, minutes=5)).isoformat()}
    r = push(api, key, [ev(f"bad-{uuid.uuid4().hex[:6]}", **bad)])
    assert r.status == 400, r.body
    event = r.json["events"][0]
    assert event["status"] == "rejected" and event["field"] == field, event
    assert usage(api, user)["totals"] == []


def test_batch_level_errors(api, user, key):
    h = {"Authorization": f"Bearer {key['key']}"}
    r = api.call("POST", "/api/webhooks/provider-usage", body=b"{not json", headers=h)
    assert r.status == 400 and r.json["error"]["field"]
    r = push(api, key, [ev(i) for i in range(1001)])
    assert r.status == 400 and r.json["error"]["field"] == "events"
    big = json.dumps({"events": [ev(1, metadata={"k": "x" * 200})] * 6000}).encode()
    assert len(big) > 1_048_576
    r = api.call("POST", "/api/webhooks/provider-usage", body=big, headers=h)
    assert r.status == 413
    assert usage(api, user)["totals"] == []


def test_missing_cost_is_estimated_from_the_catalogue(api, user, key):
    event = ev("no-cost")
    del event["cost"]
    r = push(api, key, [event])
    assert r.json["summary"]["accepted"] == 1
    spend = Decimal(usage(api, user)["totals"][0]["spend"])
    assert Decimal("0.0001") < spend < Decimal("0.01")  # gpt-4o-mini: 1200 in + 300 out tokens


def test_attribution_against_a_connected_provider_keeps_the_bill_as_spend(api, user, key):
    from chalicelib.domain.usage import RecordKind, UsageRecord
    from chalicelib.store import usage as store
    from chalicelib.store.connections import Connection

    day = datetime(AT.year, AT.month, AT.day, tzinfo=UTC)
    Connection(user.workspace_id, "conn_billed", provider="openai", label="org", credentials=b"x").save()
    bill = [UsageRecord(user.workspace_id, RecordKind.COST, "sync:conn_billed", "openai", day,
                        day + timedelta(days=1), model="gpt-4o-mini", billed_cost=Decimal("10.00"))]
    store.replace_sync_day(user.workspace_id, "conn_billed", DAY, bill)
    before = usage(api, user)["totals"][0]["spend"]
    push(api, key, [ev("a1", cost="2.50", feature="search"), ev("a2", cost="1.50", feature="chat")])
    after = usage(api, user)
    assert after["totals"][0]["spend"] == before == "10"
    shares = {p["group"]["feature"]: p["spend"] for p in usage(api, user, "&group_by=feature")["series"]}
    assert shares == {"search": "2.5", "chat": "1.5", "(unattributed)": "6"}
