"""Deleting a paying workspace cancels its Stripe subscription and leaves nothing of it in any
table declared in infra/resources.json (checked by scanning every one of them), also when the
purge needs several passes of the hourly job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack.provision import load_template
from devstack.receivers import Receiver
from tests.app.test_billing import _upgrade, stripe_fake  # noqa: F401 - fixture
from tests.helpers import purge_queue

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = 4_000_000_000  # unix seconds (2096): long after any delete's settling time


@pytest.fixture(autouse=True)
def _quiet(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    yield
    for q in ("alerts", "alert-deliveries", "sync"):
        purge_queue(q)


def _tables() -> list[str]:
    return [r["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", "test")
            for r in load_template()["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]


def _mentions(item: dict, needle: str) -> bool:
    """Any attribute (string, binary: sealed blobs carry their encryption context in clear, sets,
    maps, lists) that contains the workspace id."""
    def walk(value) -> bool:
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, list | tuple | set):
            return any(walk(v) for v in value)
        if isinstance(value, bytes | bytearray):
            return needle.encode() in bytes(value)
        return needle in str(value)
    return walk(item)


def _leftovers(workspace_id: str) -> dict[str, int]:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    found = {}
    for table in _tables():
        count = 0
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            count += sum(_mentions(item, workspace_id) for item in page["Items"])
        if count:
            found[table] = count
    return found


def _fill(api, user, monkeypatch, receiver) -> None:
    """Something of the workspace in every table."""
    from chalicelib.services import alert_eval, alert_queue, connections
    from chalicelib.store import pushed_events
    from chalicelib.store.identity import Membership

    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")  # as the local stack: the receiver is on 127.0.0.1
    ws = f"/api/workspaces/{user.workspace_id}"
    other = api.new_user("member")
    assert api.post(f"{ws}/members", {"email": other.email}, token=user.token).status == 201
    monkeypatch.setattr(connections, "_check_key", lambda provider, credentials: "…abcd")
    monkeypatch.setattr(connections, "request_sync", lambda c, reason: None)
    connection = connections.create(Membership.get(user.workspace_id, user.user_id), "openai", "main",
                                    {"admin_key": "sk-admin-x"})
    r = api.post(f"{ws}/connections/{connection['connection_id']}/key-actions",  # an audited key action
                 {"action": "delete", "api_key_id": "key_x", "project_id": "proj_x", "confirm": "key_x"},
                 token=user.token)
    assert r.status == 202, r.body
    assert api.post(f"{ws}/ingest-keys", {"name": "k"}, token=user.token).status == 201
    r = api.post(f"{ws}/alerts", {"name": "a", "kind": "threshold", "amount": 5, "period": {"kind": "weekly"},
                                  "channels": [{"type": "email"}, {"type": "webhook", "url": receiver.url()}]},
                 token=user.token)
    assert r.status == 201, r.body
    assert api.call("PUT", f"{ws}/digest", json_body={"frequency": "weekly"}, token=user.token).status == 200
    assert api.post(f"{ws}/invitations", {"email": f"invitee-{uuid.uuid4().hex[:8]}@example.com"},
                    token=user.token).status == 201
    for i in range(30):
        at = NOW - timedelta(hours=1, minutes=i)
        pushed_events.add_events(user.workspace_id, [UsageRecord(
            user.workspace_id, RecordKind.EVENT, "push:test", "openai", at, at + timedelta(seconds=1), model="gpt-4o",
            unit_type="tokens", units=Decimal(10), billed_cost=Decimal(1), idempotency_id=uuid.uuid4().hex)])
    assert alert_eval.evaluate_workspace(user.workspace_id, now=NOW)  # a firing and its deliveries
    alert_queue.request_evaluation(user.workspace_id, "test")  # a marker


def test_deleting_a_paying_workspace_cancels_stripe_and_leaves_nothing_anywhere(api, user, stripe_fake,  # noqa: F811
                                                                                monkeypatch):
    from chalicelib.services import workspace_purge

    sub_id = _upgrade(api, user, stripe_fake)
    with Receiver() as receiver:
        _fill(api, user, monkeypatch, receiver)
    before = _leftovers(user.workspace_id)
    # people and their credentials, not workspaces: users, sessions, personal API tokens, login throttling
    declared = set(_tables()) - {"costpilot-test-users", "costpilot-test-sessions", "costpilot-test-api-tokens",
                                 "costpilot-test-login-throttle"}
    assert set(before) == declared, declared - set(before)  # the test really covers every table

    # a large workspace (here: more than 10 items) is purged as a job
    assert workspace_purge.delete_workspace(user.workspace_id, budget=10) is False
    assert stripe_fake.subscriptions[sub_id]["status"] == "canceled"
    assert api.get(f"/api/workspaces/{user.workspace_id}", token=user.token).status == 404
    assert _leftovers(user.workspace_id)  # not all at once
    for _ in range(100):
        if workspace_purge.purge(user.workspace_id, budget=10) != "partial":
            break
    # all its data is gone; the mark stays until what may still be running has finished
    assert _leftovers(user.workspace_id) == {"costpilot-test-workspaces": 1}
    assert workspace_purge.purge(user.workspace_id, budget=10) == "settling"
    assert workspace_purge.purge_pending(budget=10, now=LATER) >= 1
    assert _leftovers(user.workspace_id) == {}


def test_the_delete_route_answers_204_and_a_stripe_outage_deletes_nothing(api, user, stripe_fake,  # noqa: F811
                                                                          monkeypatch):
    from chalicelib.adapters import stripe_gateway
    from chalicelib.services import workspace_purge

    _upgrade(api, user, stripe_fake)

    def down(self, *args, **kwargs):
        raise stripe_gateway.StripeUnavailable("Stripe unavailable")

    real = stripe_gateway.StripeGateway.cancel_subscription
    monkeypatch.setattr(stripe_gateway.StripeGateway, "cancel_subscription", down)
    r = api.delete(f"/api/workspaces/{user.workspace_id}", token=user.token)
    assert r.status == 503, r.body
    assert api.get(f"/api/workspaces/{user.workspace_id}", token=user.token).status == 200
    monkeypatch.setattr(stripe_gateway.StripeGateway, "cancel_subscription", real)
    assert api.delete(f"/api/workspaces/{user.workspace_id}", token=user.token).status == 204
    assert _leftovers(user.workspace_id) == {"costpilot-test-workspaces": 1}
    workspace_purge.purge_pending(now=LATER)
    assert _leftovers(user.workspace_id) == {}
