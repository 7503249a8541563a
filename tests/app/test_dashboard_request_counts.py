"""DynamoDB requests of the routes behind the dashboard (the count is the same on every machine),
and the exactness of the one-read authentication: a logout, a removed member or a changed role
counts on the very next request."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import botocore.client
import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.services import usage_queries
from chalicelib.store import pushed_events

TODAY = date(2026, 11, 18)


@pytest.fixture
def dynamo_calls(monkeypatch):
    """Every DynamoDB request any client makes, as ``"Operation table"``."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counted(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            tables = [api_params.get("TableName", "")] + [
                next(iter(item.values()))["TableName"] for item in api_params.get("TransactItems", [])] + list(
                api_params.get("RequestItems", {}))
            calls.append(f"{operation_name} {','.join(t.rsplit('-', 1)[-1] for t in tables if t)}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return calls


@pytest.fixture
def fixed_today(monkeypatch):
    monkeypatch.setattr(usage_queries, "clock", lambda: datetime.combine(TODAY, time(12), UTC))


def seed(ws: str, days: int) -> None:
    events = []
    for i in range(days, 0, -1):
        at = datetime.combine(TODAY - timedelta(days=i), time(12), UTC)
        for feature, cost in (("chat", Decimal(10) + Decimal(i % 7)), ("agent", Decimal(3))):
            events.append(UsageRecord(ws, RecordKind.EVENT, "push:k", "openai", at, at + timedelta(seconds=1),
                                      model="gpt-4o", unit_type="tokens", units=Decimal(1000), feature=feature,
                                      billed_cost=cost, idempotency_id=f"e-{i}-{feature}"))
    pushed_events.add_events(ws, events)


def _get(api, user, path, calls):
    calls.clear()
    r = api.get(f"/api/workspaces/{user.workspace_id}{path}", token=user.token)
    assert r.status == 200, r.body
    return r, list(calls)


def test_a_workspace_route_authenticates_in_one_request(api, user, dynamo_calls):
    _, calls = _get(api, user, "", dynamo_calls)
    auth = [c for c in calls if "sessions" in c or "members" in c]
    assert auth == ["TransactGetItems sessions,members"], calls


def test_insights_read_the_rollups_once(api, user, fixed_today, dynamo_calls):
    seed(user.workspace_id, 20)
    r, calls = _get(api, user, "/insights", dynamo_calls)
    assert r.json["insights"]
    rollups = [c for c in calls if c.endswith("rollups")]
    assert rollups == ["Query rollups"], calls  # was 4 reads of the two windows, at two grains
    assert len(calls) <= 3, calls  # authentication, the plan, the rollups


def test_the_summary_shares_the_forecasts_read(api, user, fixed_today, dynamo_calls):
    seed(user.workspace_id, 20)
    r, calls = _get(api, user, "/summary", dynamo_calls)
    assert r.json["forecast"]["status"] == "ok" and r.json["usage"]["series"]
    # the provider grain of the final days and the model grain of the provisional ones, once each
    assert [c for c in calls if c.endswith("rollups")] == ["Query rollups"] * 2, calls
    assert len(calls) <= 6, calls


def test_revocation_counts_on_the_next_request(api, user):
    other = api.new_user("member")
    ws = f"/api/workspaces/{user.workspace_id}"
    assert api.post(f"{ws}/members", {"email": other.email, "role": "member"}, token=user.token).status == 201
    invite = {"email": api.new_user("guest").email, "role": "member"}
    assert api.post(f"{ws}/members", invite, token=other.token).status == 403  # a member reads only

    assert api.patch(f"{ws}/members/{other.user_id}", {"role": "admin"}, token=user.token).status == 200
    assert api.post(f"{ws}/members", invite, token=other.token).status == 201  # promoted: at once
    assert api.patch(f"{ws}/members/{other.user_id}", {"role": "member"}, token=user.token).status == 200
    invite = {"email": api.new_user("guest").email, "role": "member"}
    assert api.post(f"{ws}/members", invite, token=other.token).status == 403  # demoted: at once

    assert api.delete(f"{ws}/members/{other.user_id}", token=user.token).status == 204
    r = api.get(ws, token=other.token)
    assert r.status == 404 and r.json["error"]["code"] == "not_found"  # removed: at once

    assert api.post("/api/auth/logout", token=user.token).status in (200, 204)
    assert api.get(ws, token=user.token).status == 401  # logged out: at once


def test_a_cookie_session_reads_its_membership_with_it(api, user, dynamo_calls):
    other = api.new_user("outsider")
    headers = {"Cookie": f"cp_session={user.token}"}
    dynamo_calls.clear()
    r = api.get(f"/api/workspaces/{user.workspace_id}", headers=headers)
    assert r.status == 200 and [c for c in dynamo_calls if "members" in c] == ["TransactGetItems sessions,members"]
    r = api.get(f"/api/workspaces/{user.workspace_id}", headers={"Cookie": f"cp_session={other.token}"})
    assert r.status == 404


def test_alert_history_reads_the_pages_deliveries_at_once(api, user, dynamo_calls):
    body = {"name": "OpenAI this week", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
            "channels": [{"type": "email"}]}
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", body, token=user.token)
    assert r.status == 201, r.body
    for _ in range(3):
        assert api.post(f"/api/workspaces/{user.workspace_id}/alerts/{r.json['alert_id']}/test",
                        token=user.token).status == 200
    r, calls = _get(api, user, "/alerts/history", dynamo_calls)
    firings = r.json["firings"]
    assert len(firings) == 3 and all(len(f["deliveries"]) == 1 for f in firings)
    assert all(d["status"] == "sent" for f in firings for d in f["deliveries"])
    deliveries = [c for c in calls if "deliveries" in c]
    assert deliveries == ["BatchGetItem deliveries"], calls  # was one Query per firing
    assert len(calls) <= 3, calls


def test_a_new_workspace_is_counted_from_sign_up(user):
    from chalicelib.store.identity import Workspace

    w = Workspace.get(user.workspace_id)
    assert (w.member_count, w.connection_count, w.active_alert_rule_count, w.live_ingest_key_count) == (1, 0, 0, 0)


def test_billing_reads_the_counters(api, user, dynamo_calls):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "one"}, token=user.token)
    assert r.status == 201, r.body
    r, calls = _get(api, user, "/billing", dynamo_calls)
    usage = r.json["usage"]
    assert usage["members"]["used"] == 1 and usage["ingest_keys"]["used"] == 1
    assert usage["events_per_month"]["used"] == 0
    assert len(calls) <= 4, calls  # authentication, one read of three items, connections, rules


def test_a_firing_that_names_no_channels_still_shows_its_deliveries(api, user, dynamo_calls):
    """Firings stored before ``channel_ids`` existed: their deliveries are queried, as before."""
    from chalicelib.store.alerts import Firing

    body = {"name": "Old", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
            "channels": [{"type": "email"}]}
    alert = api.post(f"/api/workspaces/{user.workspace_id}/alerts", body, token=user.token).json
    key = api.post(f"/api/workspaces/{user.workspace_id}/alerts/{alert['alert_id']}/test",
                   token=user.token).json["firing_id"]
    Firing(user.workspace_id, key).update(actions=[Firing.channel_ids.remove()])
    r, calls = _get(api, user, "/alerts/history", dynamo_calls)
    [firing] = r.json["firings"]
    assert [d["type"] for d in firing["deliveries"]] == ["email"]
    assert [c for c in calls if "deliveries" in c] == ["Query deliveries"], calls


def test_me_takes_the_accounts_creation_time_from_the_session(api, user, dynamo_calls):
    from chalicelib.store.identity import User

    dynamo_calls.clear()
    r = api.get("/api/me", token=user.token)
    calls = list(dynamo_calls)
    assert r.status == 200
    assert r.json["created_at"] == User.get(user.email).created_at.isoformat() and r.json["email"] == user.email
    assert not [c for c in calls if c.endswith("users")], calls  # the session carries it
    assert len(calls) == 3, calls  # the session, the memberships, their workspaces


def test_me_from_a_session_older_than_that_reads_the_user(api, user):
    from chalicelib.services import tokens
    from chalicelib.store.identity import Session, User

    Session(tokens.verify(user.token).session_id).update(actions=[Session.user_created_at.remove()])
    r = api.get("/api/me", token=user.token)
    assert r.status == 200 and r.json["created_at"] == User.get(user.email).created_at.isoformat()
