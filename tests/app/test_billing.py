"""Billing through the app: checkout, portal, the signed webhook, plan limits and pausing.

The fake Stripe runs on a loopback port (stripe-python talks HTTP to it) and delivers its signed
webhooks into the app through chalice's test client, as Stripe would POST them.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pytest
import stripe

from devstack.fakes import FakeAnthropic, FakeOpenAI, serve
from devstack.fakes.stripe_api import FakeStripe, serve_in_thread, sign

PRICES = {"price_test_pro": 900, "price_test_team": 2900}


class AppReceiver:
    """The fake's ``deliver``: POSTs the webhook into the app and records the answers."""

    def __init__(self, api):
        self.api = api
        self.replies = []

    def __call__(self, url, payload, headers):
        reply = self.api.call("POST", "/api/stripe/webhook", body=payload, headers=dict(headers))
        self.replies.append(reply)
        return reply.status


@pytest.fixture
def stripe_fake(api, monkeypatch):
    receiver = AppReceiver(api)
    fake = FakeStripe(os.environ["COSTPILOT_SECRET_STRIPE_SECRET_KEY"],
                      webhook_url="http://testserver/api/stripe/webhook",
                      webhook_secret=os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"],
                      prices=PRICES, deliver=receiver)
    fake.receiver = receiver
    served = serve_in_thread(fake)
    fake.base_url = served.base_url
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", served.base_url)
    yield fake
    served.stop()


@pytest.fixture
def providers(monkeypatch):
    from tests.helpers import purge_queue

    openai, anthropic = FakeOpenAI(seed=3, history_days=5), FakeAnthropic(seed=4, history_days=5)
    served = [serve(openai), serve(anthropic)]
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_OPENAI", served[0].base_url)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_ANTHROPIC", served[1].base_url)
    yield openai, anthropic
    for s in served:
        s.stop()
    purge_queue("sync")


def _billing(api, user):
    r = api.get(f"/api/workspaces/{user.workspace_id}/billing", token=user.token)
    assert r.status == 200, r.body
    return r.json


def _checkout(api, user, plan="pro", token=None):
    return api.post(f"/api/workspaces/{user.workspace_id}/billing/checkout", {"plan": plan},
                    token=token or user.token)


def _pay(url):
    """Press "Pay" on the fake's hosted checkout page; answers where it redirects."""
    page = urllib.request.urlopen(url, timeout=60).read().decode()
    assert "Pay" in page

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(
            urllib.request.Request(url + "/pay", data=b"", method="POST"), timeout=60)  # a bound, not a speed test
    except urllib.error.HTTPError as e:
        assert e.code == 303
        return e.headers["Location"]
    raise AssertionError("no redirect after paying")


def _upgrade(api, user, fake, plan="pro"):
    r = _checkout(api, user, plan)
    assert r.status == 200, r.body
    _pay(r.json["url"])
    return _subscription_id(fake, user)


def _subscription_id(fake, user):
    return next(s["id"] for s in fake.subscriptions.values()
                if s["metadata"].get("workspace_id") == user.workspace_id)


def _account(user):
    from chalicelib.store.billing import BillingAccount

    return BillingAccount.get(user.workspace_id, consistent_read=True)


def _connect(api, user, provider, key, label):
    return api.post(f"/api/workspaces/{user.workspace_id}/connections",
                    {"provider": provider, "label": label, "credentials": {"admin_key": key}}, token=user.token)


def _signed(event: dict, secret: str | None = None, t: int | None = None) -> tuple[bytes, dict]:
    payload = json.dumps(event).encode()
    secret = secret or os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"]
    return payload, {"Stripe-Signature": sign(payload, secret, t)}


def _webhook(api, payload: bytes, headers: dict):
    return api.call("POST", "/api/stripe/webhook", body=payload,
                    headers={"Content-Type": "application/json; charset=utf-8", **headers})


# ---- overview and checkout --------------------------------------------------------------------

def test_a_new_workspace_is_on_free_with_usage_against_each_limit(api, user):
    b = _billing(api, user)
    assert b["plan"]["name"] == "free" and b["subscription"] is None and b["notice"] is None
    assert b["usage"]["connections"] == {"used": 0, "active": 0, "limit": 2, "over_limit": False}
    assert b["usage"]["members"]["used"] == 1 and b["usage"]["members"]["limit"] == 3
    assert b["usage"]["history_days"] == {"limit": 30}
    assert [p["name"] for p in b["plans"]] == ["free", "pro", "team"]
    assert [p["purchasable"] for p in b["plans"]] == [False, True, True]


def test_checkout_then_pay_moves_the_plan_and_the_limits_at_once(api, user, stripe_fake):
    r = _checkout(api, user)
    assert r.status == 200, r.body
    assert r.json["url"].startswith("http://127.0.0.1:") and r.json["plan"] == "pro"
    session = stripe_fake.sessions[r.json["session_id"]]
    assert session["client_reference_id"] == user.workspace_id
    assert session["metadata"]["workspace_id"] == user.workspace_id
    assert session["success_url"].startswith("http://testserver/") and "{CHECKOUT_SESSION_ID}" in session["success_url"]
    assert session["customer"] == _account(user).stripe_customer_id

    location = _pay(r.json["url"])
    assert location.startswith("http://testserver/") and r.json["session_id"] in location
    assert [x.status for x in stripe_fake.receiver.replies] == [200, 200, 200]
    b = _billing(api, user)
    assert b["plan"]["name"] == "pro"
    assert b["subscription"]["status"] == "active" and b["subscription"]["cancel_at_period_end"] is False
    assert b["subscription"]["current_period_end"]
    assert b["usage"]["connections"]["limit"] == 10 and b["usage"]["history_days"]["limit"] == 365

    # A live subscription is changed in the portal, not bought twice.
    again = _checkout(api, user, "team")
    assert again.status == 409 and again.json["error"]["code"] == "subscription_exists"
    assert again.json["error"]["portal"].endswith("/billing/portal")
    portal = api.post(f"/api/workspaces/{user.workspace_id}/billing/portal", token=user.token)
    assert portal.status == 200 and "/billing_portal/" in portal.json["url"]


def test_only_owners_open_checkout_or_the_portal(api, user, stripe_fake):
    admin, member = api.new_user("admin"), api.new_user("member")
    for other, role in ((admin, "admin"), (member, "member")):
        r = api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": other.email, "role": role},
                     token=user.token)
        assert r.status == 201, r.body
    for other in (admin, member):
        assert _checkout(api, user, token=other.token).status == 403
        assert api.post(f"/api/workspaces/{user.workspace_id}/billing/portal", token=other.token).status == 403
        assert api.post(f"/api/workspaces/{user.workspace_id}/billing/keep", {"connection_ids": []},
                        token=other.token).status == 403
        r = api.get(f"/api/workspaces/{user.workspace_id}/billing", token=other.token)  # any member reads
        assert r.status == 200 and r.json["plan"]["name"] == "free"
    assert stripe_fake.customers == {} and stripe_fake.sessions == {}


def test_portal_without_a_customer_is_a_conflict(api, user, stripe_fake):
    r = api.post(f"/api/workspaces/{user.workspace_id}/billing/portal", token=user.token)
    assert (r.status, r.json["error"]["code"]) == (409, "no_billing_account")


def test_concurrent_checkouts_create_one_customer(api, user, stripe_fake):
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services import billing_checkout

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: billing_checkout.ensure_customer(user.workspace_id), range(8)))
    assert len(ids) == 1
    assert [c["id"] for c in stripe_fake.customers.values()] == list(ids)
    assert _account(user).stripe_customer_id in ids and _account(user).customer_pending_since is None
    # and through the API, twice in a row
    assert _checkout(api, user).status == 200 and _checkout(api, user).status == 200
    assert len(stripe_fake.customers) == 1 and len(stripe_fake.sessions) == 2


def test_stripe_down_at_checkout_is_a_503(api, user, monkeypatch):
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", "http://127.0.0.1:9")
    r = _checkout(api, user)
    assert (r.status, r.json["error"]["code"]) == (503, "billing_unavailable")


# ---- the webhook ------------------------------------------------------------------------------

def _completed_events(api, user, stripe_fake):
    """A paid checkout whose events are logged at the fake but not delivered yet."""
    stripe_fake.auto_deliver = False
    r = _checkout(api, user)
    stripe_fake.complete_checkout(r.json["session_id"])
    return stripe_fake.event_ids()


@pytest.mark.parametrize("tamper", ["forged", "stale", "altered", "missing", "garbage"])
def test_bad_signatures_are_400_and_change_nothing(api, user, stripe_fake, tamper):
    from chalicelib.store.billing import ProcessedEvent

    ids = _completed_events(api, user, stripe_fake)
    event = stripe_fake.events[ids[1]]  # customer.subscription.created
    payload, headers = _signed(event)
    if tamper == "forged":
        payload, headers = _signed(event, secret="whsec_not_the_stage_secret")
    elif tamper == "stale":
        payload, headers = _signed(event, t=int(time.time()) - 301)
    elif tamper == "altered":
        payload = payload.replace(b'"active"', b'"trialing"')
    elif tamper == "missing":
        headers = {}
    else:
        headers = {"Stripe-Signature": "v1=deadbeef"}
    r = _webhook(api, payload, headers)
    assert (r.status, r.json["error"]["code"]) == (400, "invalid_signature")
    assert _billing(api, user)["plan"]["name"] == "free"
    with pytest.raises(ProcessedEvent.DoesNotExist):
        ProcessedEvent.get(event["id"])
    # the genuine delivery still works
    assert _webhook(api, *_signed(event)).json["outcome"] == "applied"
    assert _billing(api, user)["plan"]["name"] == "pro"


def test_the_same_event_twice_is_processed_once(api, user, stripe_fake):
    _upgrade(api, user, stripe_fake)
    version = _account(user).version
    replies = stripe_fake.deliver_events()  # every event again
    assert {d.status for d in replies} == {200}
    assert {r.json["outcome"] for r in stripe_fake.receiver.replies[-len(replies):]} == {"duplicate"}
    assert _account(user).version == version
    assert _billing(api, user)["plan"]["name"] == "pro"


def test_events_in_reverse_order_end_in_the_right_state(api, user, stripe_fake):
    ids = _completed_events(api, user, stripe_fake)
    sub_id = _subscription_id(stripe_fake, user)
    stripe_fake.cancel_at_period_end(sub_id)
    updated = stripe_fake.event_ids("customer.subscription.updated")
    # the update arrives first, checkout.session.completed last
    stripe_fake.deliver_events(updated + list(reversed(ids)))
    assert [r.status for r in stripe_fake.receiver.replies] == [200] * 4
    b = _billing(api, user)
    assert b["plan"]["name"] == "pro" and b["subscription"]["cancel_at_period_end"] is True
    assert b["notice"]["code"] == "cancels_at_period_end"


def test_an_old_update_after_a_newer_one_does_not_win(api, user, stripe_fake):
    sub_id = _upgrade(api, user, stripe_fake)
    stripe_fake.auto_deliver = False
    stripe_fake.cancel_at_period_end(sub_id)
    stripe_fake.advance(60)
    client = stripe.StripeClient(os.environ["COSTPILOT_SECRET_STRIPE_SECRET_KEY"],
                                 base_addresses={"api": stripe_fake.base_url})
    client.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": False})  # resumed
    cancel, resume = stripe_fake.event_ids("customer.subscription.updated")
    stripe_fake.deliver_events([resume, cancel])
    assert _billing(api, user)["subscription"]["cancel_at_period_end"] is False
    assert _account(user).state().cancel_at_period_end is False


def test_unknown_types_and_unknown_workspaces_are_acknowledged(api, stripe_fake):
    unknown_type = {"id": "evt_unknown_type_1", "object": "event", "type": "customer.created", "created": 1,
                    "data": {"object": {"id": "cus_x", "object": "customer"}}}
    r = _webhook(api, *_signed(unknown_type))
    assert (r.status, r.json["outcome"]) == (200, "ignored")
    stranger = {"id": "evt_stranger_1", "object": "event", "type": "customer.subscription.updated", "created": 1,
                "data": {"object": {"id": "sub_x", "object": "subscription", "customer": "cus_nobody",
                                    "status": "active", "metadata": {"workspace_id": "ws_does_not_exist"}}}}
    r = _webhook(api, *_signed(stranger))
    assert (r.status, r.json["outcome"]) == (200, "unknown_workspace")
    assert _webhook(api, *_signed(stranger)).json["outcome"] == "duplicate"


def test_a_failure_while_processing_is_5xx_and_the_retry_applies(api, user, stripe_fake, monkeypatch):
    from chalicelib.store.billing import ProcessedEvent

    ids = _completed_events(api, user, stripe_fake)
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe unreachable
    stripe_fake.deliver_events(ids[1:2])
    assert stripe_fake.receiver.replies[-1].status == 503
    with pytest.raises(ProcessedEvent.DoesNotExist):
        ProcessedEvent.get(ids[1])
    assert _billing(api, user)["plan"]["name"] == "free"
    monkeypatch.undo()
    monkeypatch.setenv("COSTPILOT_STRIPE_API_BASE", stripe_fake.base_url)
    stripe_fake.replay(ids[1])  # Stripe's retry
    assert stripe_fake.receiver.replies[-1].json["outcome"] == "applied"
    assert _billing(api, user)["plan"]["name"] == "pro"


# ---- the plan's lifecycle and its limits ------------------------------------------------------

def test_cancel_keeps_pro_until_period_end_then_free_and_pauses_without_deleting(api, user, stripe_fake,
                                                                                 providers):
    openai, anthropic = providers
    sub_id = _upgrade(api, user, stripe_fake)
    created = [_connect(api, user, p, f.admin_key, f"c{i}") for i, (p, f) in
               enumerate([("openai", openai), ("anthropic", anthropic), ("openai", openai)])]
    assert [r.status for r in created] == [201, 201, 201]
    conn_ids = [r.json["connection_id"] for r in created]

    stripe_fake.cancel_at_period_end(sub_id)
    b = _billing(api, user)
    assert b["plan"]["name"] == "pro" and b["notice"]["code"] == "cancels_at_period_end"
    assert b["usage"]["connections"]["active"] == 3

    stripe_fake.end_period(sub_id)  # Stripe ends it: customer.subscription.deleted
    b = _billing(api, user)
    assert b["plan"]["name"] == "free" and b["subscription"]["status"] == "canceled"
    listed = api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token).json["connections"]
    assert {c["connection_id"]: c["status"] for c in listed} == {
        conn_ids[0]: "active", conn_ids[1]: "active", conn_ids[2]: "paused"}  # oldest stay, none deleted
    assert b["paused_by_plan"]["connections"] == [conn_ids[2]]

    # The owner chooses which stay active; resuming a paused one over the limit is refused.
    r = api.post(f"/api/workspaces/{user.workspace_id}/billing/keep",
                 {"connection_ids": [conn_ids[2], conn_ids[1]]}, token=user.token)
    assert r.status == 200, r.body
    statuses = {c["connection_id"]: c["status"] for c in
                api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token).json["connections"]}
    assert statuses == {conn_ids[0]: "paused", conn_ids[1]: "active", conn_ids[2]: "active"}
    r = api.patch(f"/api/workspaces/{user.workspace_id}/connections/{conn_ids[0]}", {"status": "active"},
                  token=user.token)
    assert (r.status, r.json["error"]["code"], r.json["error"]["upgrade_to"]) == (402, "plan_limit", "pro")
    r = api.post(f"/api/workspaces/{user.workspace_id}/billing/keep", {"connection_ids": conn_ids}, token=user.token)
    assert (r.status, r.json["error"]["limit"]) == (402, "connections")
    r = api.post(f"/api/workspaces/{user.workspace_id}/billing/keep", {"connection_ids": ["conn_nope"]},
                 token=user.token)
    assert r.status == 400

    # Subscribing again resumes what the plan paused.
    _upgrade(api, user, stripe_fake)
    statuses = {c["connection_id"]: c["status"] for c in
                api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token).json["connections"]}
    assert set(statuses.values()) == {"active"}


def test_connections_limit_is_lifted_by_the_upgrade(api, user, stripe_fake, providers):
    openai, anthropic = providers
    assert _connect(api, user, "openai", openai.admin_key, "one").status == 201
    assert _connect(api, user, "anthropic", anthropic.admin_key, "two").status == 201
    r = _connect(api, user, "openai", openai.admin_key, "three")
    assert (r.status, r.json["error"]["code"], r.json["error"]["limit"], r.json["error"]["upgrade_to"]) == (
        402, "plan_limit", "connections", "pro")
    _upgrade(api, user, stripe_fake)
    assert _connect(api, user, "openai", openai.admin_key, "three").status == 201


def test_members_limit_is_enforced_and_lifted(api, user, stripe_fake):
    path = f"/api/workspaces/{user.workspace_id}/members"
    for i in range(2):
        assert api.post(path, {"email": api.new_user(f"m{i}").email}, token=user.token).status == 201
    extra = api.new_user("extra")
    r = api.post(path, {"email": extra.email}, token=user.token)
    assert (r.status, r.json["error"]["code"], r.json["error"]["limit"], r.json["error"]["upgrade_to"]) == (
        402, "plan_limit", "members", "pro")
    assert "Upgrade to Pro" in r.json["error"]["message"]
    _upgrade(api, user, stripe_fake)
    assert api.post(path, {"email": extra.email}, token=user.token).status == 201


def test_failed_payment_keeps_the_plan_for_a_grace_period(api, user, stripe_fake):
    from chalicelib.services import plan_limits

    sub_id = _upgrade(api, user, stripe_fake)
    stripe_fake.fail_payment(sub_id)
    b = _billing(api, user)
    assert b["plan"]["name"] == "pro" and b["subscription"]["status"] == "past_due"
    assert b["notice"]["code"] == "past_due_grace" and b["notice"]["until"]
    assert plan_limits.current_plan(user.workspace_id, now=time.time() + 8 * 24 * 3600).name == "free"
    stripe_fake.recover_payment(sub_id)
    b = _billing(api, user)
    assert b["subscription"]["status"] == "active" and b["notice"] is None
    assert plan_limits.current_plan(user.workspace_id, now=time.time() + 8 * 24 * 3600).name == "pro"


def test_event_quota_and_alert_rules_read_the_plan(api, user):
    from chalicelib.domain import plans
    from chalicelib.domain.plans import Limit, PlanLimitExceeded
    from chalicelib.services import plan_limits

    plan_limits.check_event_quota(user.workspace_id, 9_000, 1_000)
    with pytest.raises(PlanLimitExceeded) as e:
        plan_limits.check_event_quota(user.workspace_id, 9_000, 1_001)
    assert (e.value.limit, e.value.upgrade_to) == (Limit.EVENTS_PER_MONTH, "pro")
    with pytest.raises(PlanLimitExceeded):
        plans.check_limit(plan_limits.current_plan(user.workspace_id), Limit.ALERT_RULES, 3)


def test_alert_rules_limit_and_pausing_follow_the_plan(api, user, stripe_fake):
    path = f"/api/workspaces/{user.workspace_id}/alerts"

    def create(i):
        return api.post(path, {"name": f"rule {i}", "kind": "threshold", "amount": 50 + i,
                               "period": {"kind": "weekly"}, "channels": [{"type": "email"}]}, token=user.token)

    first = create(0)
    assert first.status == 201, first.body
    ids = [first.json["alert_id"]] + [create(i).json["alert_id"] for i in (1, 2)]
    r = create(3)
    assert (r.status, r.json["error"]["code"], r.json["error"]["limit"]) == (402, "plan_limit", "alert_rules")
    sub_id = _upgrade(api, user, stripe_fake)
    ids.append(create(3).json["alert_id"])
    assert _billing(api, user)["usage"]["alert_rules"]["used"] == 4

    stripe_fake.cancel_at_period_end(sub_id)
    stripe_fake.end_period(sub_id)
    b = _billing(api, user)
    assert b["plan"]["name"] == "free" and b["paused_by_plan"]["alert_rules"] == [ids[3]]
    r = api.post(f"/api/workspaces/{user.workspace_id}/billing/keep", {"alert_rule_ids": [ids[3], ids[0], ids[1]]},
                 token=user.token)
    assert r.status == 200, r.body
    statuses = {a["alert_id"]: a["status"] for a in api.get(path, token=user.token).json["alerts"]}
    assert statuses == {ids[0]: "active", ids[1]: "active", ids[2]: "paused", ids[3]: "active"}
