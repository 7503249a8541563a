"""A changed alert is armed afresh for the current period, and alert emails go to whoever is a
member when they are sent (not when the alert was set up). Fixed clock: a Wednesday."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack import outbox
from tests.helpers import purge_queue

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday: the week started on Monday the 23rd


@pytest.fixture(autouse=True)
def clean_queues(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    yield
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)


def push(ws: str, amount: str, at: datetime = NOW - timedelta(hours=1)) -> None:
    from chalicelib.store import pushed_events

    pushed_events.add_events(ws, [UsageRecord(ws, RecordKind.EVENT, "push:test", "openai", at,
                                              at + timedelta(seconds=1), model="gpt-4o", unit_type="tokens",
                                              units=Decimal(1000), billed_cost=Decimal(amount),
                                              idempotency_id=uuid.uuid4().hex)])


def evaluate(ws: str) -> list[str]:
    from chalicelib.services import alert_eval

    return alert_eval.evaluate_workspace(ws, now=NOW)


def create(api, user, **spec) -> dict:
    body = {"name": "Weekly", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
            "channels": [{"type": "email"}], **spec}
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", body, token=user.token)
    assert r.status == 201, r.body
    return r.json


def test_raising_the_amount_after_a_firing_rearms_the_alert_this_period(api, user):
    alert = create(api, user)
    url = f"/api/workspaces/{user.workspace_id}/alerts/{alert['alert_id']}"
    push(user.workspace_id, "55")
    assert len(evaluate(user.workspace_id)) == 1
    assert api.patch(url, {"amount": 500}, token=user.token).status == 200
    assert evaluate(user.workspace_id) == []  # $55 is under $500
    push(user.workspace_id, "501")
    [key] = evaluate(user.workspace_id)
    assert evaluate(user.workspace_id) == []  # and once only
    subjects = [m["subject"] for m in outbox.messages(to=user.email)]
    assert any("$556.00" in s and "$500.00" in s for s in subjects), subjects
    # renaming is no change of what the alert watches: nothing fires again
    assert api.patch(url, {"name": "Renamed"}, token=user.token).status == 200
    assert evaluate(user.workspace_id) == []
    # changing the scope re-arms as well
    assert api.patch(url, {"scope": {"dimension": "provider", "value": "openai"}}, token=user.token).status == 200
    assert len(evaluate(user.workspace_id)) == 1
    assert key.startswith(alert["alert_id"])


def test_budget_levels_changed_fire_again(api, user):
    alert = create(api, user, kind="budget", amount=100, levels=[50, 100])
    push(user.workspace_id, "60")
    assert len(evaluate(user.workspace_id)) == 1
    url = f"/api/workspaces/{user.workspace_id}/alerts/{alert['alert_id']}"
    assert api.patch(url, {"levels": [25, 50]}, token=user.token).status == 200
    assert len(evaluate(user.workspace_id)) == 1


def test_a_removed_member_gets_no_alert_email(api, user):
    member = api.new_user("leaver")
    ws = f"/api/workspaces/{user.workspace_id}"
    assert api.post(f"{ws}/members", {"email": member.email}, token=user.token).status == 201
    alert = create(api, user, channels=[{"type": "email", "to": [user.email, member.email]},
                                        {"type": "email", "to": [member.email]}])
    assert api.delete(f"{ws}/members/{member.user_id}", token=user.token).status == 204
    push(user.workspace_id, "75")
    [key] = evaluate(user.workspace_id)
    assert outbox.messages(to=member.email) == []
    assert len(outbox.messages(to=user.email)) == 1
    [firing] = api.get(f"{ws}/alerts/history?alert_id={alert['alert_id']}", token=user.token).json["firings"]
    statuses = {d["channel_id"]: d["status"] for d in firing["deliveries"]}
    only_member = alert["channels"][1]["channel_id"]
    assert statuses[only_member] == "cancelled" and statuses[alert["channels"][0]["channel_id"]] == "sent"
    assert firing["firing_id"] == key
