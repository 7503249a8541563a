"""The demo owner upgrades Free -> Pro on the real local stack, through checkout on the fake Stripe's
hosted page; replaying the events changes nothing; cancelling keeps Pro until the period ends, then
Free, with every record kept."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest

from tests.e2e import http
from tests.e2e.stack import ROOT, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    yield {"base": s.base, "stripe": s.banner_url("Fake Stripe:")}
    s.stop()


def _cli(stack, *args) -> object:
    out = subprocess.run([sys.executable, "-m", "devstack.stripe_local", "--url", stack["stripe"], *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _signup(base: str) -> str:
    email = f"teammate-{uuid.uuid4().hex[:8]}@example.com"
    assert http.post(f"{base}/api/auth/signup", json={"email": email, "password": "long enough pw"}).status_code == 201
    return email


def test_demo_owner_upgrades_replays_and_cancels(stack):
    base = stack["base"]
    token = http.post(f"{base}/api/auth/login",
                       json={"email": "demo@costpilot.local", "password": "demo-password-123"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    ws = http.get(f"{base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    billing, members = f"{base}/api/workspaces/{ws}/billing", f"{base}/api/workspaces/{ws}/members"
    assert http.get(billing, headers=auth).json()["plan"]["name"] == "free"

    # Free: the owner and two more; the fourth member needs Pro.
    for _ in range(2):
        assert http.post(members, json={"email": _signup(base)}, headers=auth).status_code == 201
    fourth = _signup(base)
    r = http.post(members, json={"email": fourth}, headers=auth)
    assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["upgrade_to"]) == (402, "plan_limit", "pro")

    # Checkout opens the fake's hosted page; "Pay" delivers the signed events and redirects back.
    checkout = http.post(f"{billing}/checkout", json={"plan": "pro"}, headers=auth).json()
    assert checkout["url"].startswith(stack["stripe"])
    assert "Pay" in http.get(checkout["url"]).text
    paid = http.post(checkout["url"] + "/pay")
    assert paid.status_code == 303 and paid.headers["location"].startswith(base)
    state = http.get(billing, headers=auth).json()
    assert state["plan"]["name"] == "pro" and state["usage"]["members"]["limit"] == 5
    assert http.post(members, json={"email": fourth}, headers=auth).status_code == 201  # the limit moved at once
    state = http.get(billing, headers=auth).json()

    # Replaying every event changes nothing.
    events = _cli(stack, "events")
    assert [e["type"] for e in events] == ["checkout.session.completed", "customer.subscription.created",
                                           "invoice.paid"]
    assert all(e["deliveries"] == [200] for e in events)
    for e in events:
        assert _cli(stack, "replay", e["id"])["status"] == 200
    assert _cli(stack, "deliver", "--order", "reversed")[0]["status"] == 200
    assert http.get(billing, headers=auth).json() == state

    # Cancel in the portal: Pro until the period ends, then Free; nothing is deleted.
    portal = http.post(f"{billing}/portal", headers=auth).json()["url"]
    action = re.search(r'action="(/billing_portal/[^"]+/cancel)"', http.get(portal).text).group(1)
    assert http.post(stack["stripe"] + action).status_code == 303
    state = http.get(billing, headers=auth).json()
    assert state["plan"]["name"] == "pro" and state["subscription"]["cancel_at_period_end"] is True
    assert state["notice"]["code"] == "cancels_at_period_end"

    sub_id = _cli(stack, "subscriptions")[0]["id"]
    _cli(stack, "end_period", sub_id)
    state = http.get(billing, headers=auth).json()
    assert state["plan"]["name"] == "free" and state["subscription"]["status"] == "canceled"
    assert len(http.get(members, headers=auth).json()["members"]) == 4  # every record kept
    assert http.post(members, json={"email": _signup(base)}, headers=auth).status_code == 402
