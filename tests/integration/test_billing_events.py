"""The webhook's exactly-once and ordering guarantees against moto DynamoDB, with the fake Stripe on
loopback: concurrent deliveries of one event, concurrent events of one workspace, and the hourly
pass that catches a plan changing with time alone."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.client
import pytest

from devstack.fakes.stripe_api import FakeStripe, serve_in_thread, sign

PRICES = {"price_test_pro": 900, "price_test_team": 2900}


class Inbox:
    def __init__(self):
        self.received: list[tuple[bytes, dict]] = []

    def __call__(self, url, payload, headers):
        self.received.append((payload, dict(headers)))
        return 200


@pytest.fixture
def fake(aws, monkeypatch):
    inbox = Inbox()
    fake = FakeStripe(os.environ["COSTPILOT_SECRET_STRIPE_SECRET_KEY"], webhook_url="http://app.invalid/hook",
                      webhook_secret=os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"], prices=PRICES,
                      deliver=inbox)
    fake.inbox = inbox
    served = serve_in_thread(fake)
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", served.base_url)
    yield fake
    served.stop()


@pytest.fixture
def workspace_id(aws):
    from chalicelib.services import accounts

    return accounts.signup(f"billing-{time.time_ns()}@example.com", "long enough pw", "Billing")["workspace_id"]


def _paid_checkout(fake, workspace_id):
    from chalicelib.services import billing_checkout

    session = billing_checkout.start_checkout(workspace_id, "pro")
    fake.complete_checkout(session["session_id"])
    return fake.subscriptions[fake.sessions[session["session_id"]]["subscription"]]["id"]


def _deliver(payload: bytes) -> dict:
    from chalicelib.services import billing_events

    return billing_events.handle(payload, sign(payload, os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"]))


def _version(workspace_id):
    from chalicelib.store.billing import BillingAccount

    return BillingAccount.get(workspace_id, consistent_read=True).version


def test_concurrent_deliveries_of_one_event_apply_it_once(fake, workspace_id):
    _paid_checkout(fake, workspace_id)
    payload = fake.inbox.received[1][0]  # customer.subscription.created
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda _: _deliver(payload)["outcome"], range(6)))
    assert outcomes.count("applied") == 1 and outcomes.count("duplicate") == 5
    assert _version(workspace_id) == 1


def test_concurrent_events_of_one_workspace_all_apply_in_turn(fake, workspace_id):
    from chalicelib.services import plan_limits

    _paid_checkout(fake, workspace_id)
    payloads = [p for p, _ in fake.inbox.received]
    with ThreadPoolExecutor(3) as pool:
        outcomes = [r["outcome"] for r in pool.map(_deliver, payloads)]
    assert outcomes == ["applied"] * 3
    assert _version(workspace_id) == 3  # each one a version: none overwrote another
    assert plan_limits.current_plan(workspace_id).name == "pro"


def test_every_order_of_a_lifecycle_ends_in_the_same_state(fake, workspace_id):
    from chalicelib.services import plan_limits

    sub_id = _paid_checkout(fake, workspace_id)
    fake.fail_payment(sub_id)
    fake.recover_payment(sub_id)
    fake.cancel_at_period_end(sub_id)
    for payload, _ in reversed(fake.inbox.received):
        assert _deliver(payload)["outcome"] == "applied"
    state = plan_limits.subscription_state(workspace_id)
    assert (state.plan, state.status, state.cancel_at_period_end, state.past_due_since) == ("pro", "active", True,
                                                                                          None)
    assert [json.loads(p)["type"] for p, _ in fake.inbox.received][-1] == "customer.subscription.updated"


def _three_connections_on_pro_cancelling(fake, workspace_id) -> int:
    """Pro with three connections (Free keeps two), cancelled at period end; answers the period's end."""
    from chalicelib.services import plan_limits
    from chalicelib.store.connections import Connection

    sub_id = _paid_checkout(fake, workspace_id)
    for payload, _ in fake.inbox.received:
        _deliver(payload)
    for i in range(3):
        Connection(workspace_id, f"conn_{i}", provider="openai", label=f"c{i}", credentials=b"x").save()
    fake.cancel_at_period_end(sub_id)
    _deliver(fake.inbox.received[-1][0])
    return plan_limits.subscription_state(workspace_id).current_period_end


def _statuses(workspace_id) -> dict[str, str]:
    from chalicelib.store.connections import Connection

    return {c.connection_id: c.status for c in Connection.query(workspace_id, consistent_read=True)}


def _first_read_is(monkeypatch, stale) -> None:
    """The next reconcile reads ``stale`` first, as a pass that read the account before another wrote it."""
    from chalicelib.services import billing_reconcile

    reads = [stale]
    real = billing_reconcile.account_of
    monkeypatch.setattr(billing_reconcile, "account_of", lambda w: reads.pop() if reads else real(w))


def test_the_hourly_pass_pauses_when_the_period_ends_without_an_event(fake, workspace_id):
    from chalicelib.services import billing_reconcile

    period_end = _three_connections_on_pro_cancelling(fake, workspace_id)
    assert billing_reconcile.reconcile(workspace_id, now=period_end - 1) == {}  # still Pro: nothing to do
    assert billing_reconcile.reconcile_all(now=period_end + 1) >= 1
    assert _statuses(workspace_id) == {"conn_0": "active", "conn_1": "active", "conn_2": "paused"}
    assert billing_reconcile.reconcile(workspace_id, now=period_end + 2) == {}  # reconciled once


def test_a_pass_that_read_the_account_before_another_paused_keeps_the_plans_list(fake, workspace_id, monkeypatch):
    from chalicelib.services import billing_overview, billing_reconcile
    from chalicelib.store.billing import account_of

    period_end = _three_connections_on_pro_cancelling(fake, workspace_id)
    stale = account_of(workspace_id)  # the hourly pass reads here, then the webhook's pass runs whole
    assert billing_reconcile.reconcile(workspace_id, now=period_end + 1)["connections"]["paused"] == ["conn_2"]
    _first_read_is(monkeypatch, stale)
    # it sees conn_2 paused, not by the plan in what it read: it must not write the plan's list back empty
    assert billing_reconcile.reconcile(workspace_id, now=period_end + 1) == {}
    assert _statuses(workspace_id) == {"conn_0": "active", "conn_1": "active", "conn_2": "paused"}
    assert account_of(workspace_id).plan_paused_connection_ids == ["conn_2"]
    assert billing_overview.overview(workspace_id, now=period_end + 1)["paused_by_plan"]["connections"] == ["conn_2"]


def test_a_pass_on_a_stale_plan_undoes_what_it_paused(fake, workspace_id, monkeypatch):
    from chalicelib.services import billing_reconcile
    from chalicelib.store.billing import BillingAccount, account_of

    period_end = _three_connections_on_pro_cancelling(fake, workspace_id)
    stale = account_of(workspace_id)  # cancelling: Free after the period's end
    # the owner undoes the cancellation and its webhook applies before the stale pass writes
    BillingAccount(workspace_id).update(actions=[BillingAccount.cancel_at_period_end.set(False),
                                                 BillingAccount.version.add(1)])
    _first_read_is(monkeypatch, stale)
    report = billing_reconcile.reconcile(workspace_id, now=period_end + 1)
    assert report["connections"] == {"paused": [], "resumed": []}  # it paused conn_2, then resumed it
    assert _statuses(workspace_id) == {"conn_0": "active", "conn_1": "active", "conn_2": "active"}
    assert account_of(workspace_id).plan_paused_connection_ids == []
    assert account_of(workspace_id).reconciled_plan == "pro"


def _each_aws_request_atomic(monkeypatch) -> None:
    """One AWS request at a time, as DynamoDB applies each request atomically: moto does not (two
    threads' conditional updates can both pass the condition and both write), which is no behaviour
    of DynamoDB's to test against. The passes still interleave between requests."""
    lock = threading.Lock()
    send = botocore.client.BaseClient._make_api_call

    def atomic(client, operation, params):
        with lock:
            return send(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", atomic)


def test_concurrent_passes_after_a_downgrade_agree(fake, workspace_id, monkeypatch):
    from chalicelib.services import billing_reconcile
    from chalicelib.store.billing import account_of

    period_end = _three_connections_on_pro_cancelling(fake, workspace_id)
    _each_aws_request_atomic(monkeypatch)
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: billing_reconcile.reconcile(workspace_id, now=period_end + 1), range(4)))
    assert sum(r.get("connections", {}).get("paused", []) == ["conn_2"] for r in reports) == 1
    assert _statuses(workspace_id) == {"conn_0": "active", "conn_1": "active", "conn_2": "paused"}
    assert account_of(workspace_id).plan_paused_connection_ids == ["conn_2"]
