"""A workspace has at most one live Stripe subscription: a new checkout expires the one opened
before (it can no longer be paid), a checkout while one is live goes to the portal, and a second
subscription that arrives anyway is cancelled at Stripe and flagged."""

from __future__ import annotations

import stripe

from tests.app.test_billing import _billing, _checkout, _pay, _upgrade, stripe_fake  # noqa: F401 - fixture


def _live(fake, user):
    return [s["id"] for s in fake.subscriptions.values()
            if s["metadata"].get("workspace_id") == user.workspace_id and s["status"] != "canceled"]


def test_two_checkouts_one_after_the_other_leave_one_payable(api, user, stripe_fake):  # noqa: F811
    pro = _checkout(api, user, "pro")
    team = _checkout(api, user, "team")
    assert pro.status == team.status == 200, (pro.body, team.body)
    assert stripe_fake.sessions[pro.json["session_id"]]["status"] == "expired"
    assert stripe_fake.sessions[team.json["session_id"]]["status"] == "open"
    _pay(team.json["url"])
    assert len(_live(stripe_fake, user)) == 1
    assert _billing(api, user)["plan"]["name"] == "team"
    r = _checkout(api, user, "pro")
    assert (r.status, r.json["error"]["code"]) == (409, "subscription_exists")
    assert r.json["error"]["portal"].endswith("/billing/portal")


def test_a_second_subscription_that_arrives_anyway_is_cancelled_and_flagged(api, user, stripe_fake):  # noqa: F811
    first = _upgrade(api, user, stripe_fake, "pro")
    customer = stripe_fake.subscriptions[first]["customer"]
    # a checkout made outside CostPilot (say an old link) for the same workspace is paid
    client = stripe.StripeClient(stripe_fake.api_key, base_addresses={"api": stripe_fake.base_url})
    session = client.v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer, "line_items": [{"price": "price_test_team", "quantity": 1}],
        "client_reference_id": user.workspace_id, "metadata": {"workspace_id": user.workspace_id},
        "subscription_data": {"metadata": {"workspace_id": user.workspace_id}}})
    stripe_fake.complete_checkout(session.id)
    second = stripe_fake.sessions[session.id]["subscription"]
    assert stripe_fake.subscriptions[second]["status"] == "canceled"
    assert _live(stripe_fake, user) == [first]
    b = _billing(api, user)
    assert b["plan"]["name"] == "pro" and b["refused_subscriptions"] == [second]
    assert all(r.status == 200 for r in stripe_fake.receiver.replies)
