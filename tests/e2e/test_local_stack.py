"""Starts the real local stack (scripts/dev's entry point) and talks HTTP to it, as a user would."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from tests.e2e import http
from tests.e2e.stack import Stack, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack():
    s = Stack(free_port())
    yield s
    if s.proc.poll() is None:
        s.stop()


def test_demo_credentials_are_printed_and_work(stack):
    banner = "".join(stack.banner)
    assert "demo@costpilot.local" in banner and f"http://127.0.0.1:{stack.port}" in banner
    r = http.post(f"{stack.base}/api/auth/login",
                  json={"email": "demo@costpilot.local", "password": "demo-password-123"})
    assert r.status_code == 200
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    me = http.get(f"{stack.base}/api/me", headers=auth).json()
    assert [w["name"] for w in me["workspaces"]] == ["Demo workspace", "Demo: Google Cloud"]
    gcp_ws = me["workspaces"][1]["workspace_id"]  # the fake BigQuery billing export, synced by the runner
    assert [c["provider"] for c in _wait_synced(stack.base, auth, gcp_ws, 1)] == ["gcp"]
    usage = http.get(f"{stack.base}/api/workspaces/{gcp_ws}/usage?group_by=model", headers=auth).json()
    assert Decimal(usage["totals"][0]["billed"]) > 0 and "gemini-2.5-flash" in {
        p["group"]["model"] for p in usage["series"]}


def test_signup_login_workspaces_and_members_over_http(stack):
    base = stack.base
    alice, bob = (f"{n}-{uuid.uuid4().hex[:6]}@example.com" for n in ("alice", "bob"))
    for email in (alice, bob):
        signup = http.post(f"{base}/api/auth/signup", json={"email": email, "password": "long enough pw"})
        assert signup.status_code == 201
    token = http.post(f"{base}/api/auth/login", json={"email": alice, "password": "long enough pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    ws = http.post(f"{base}/api/workspaces", json={"name": "Team"}, headers=auth).json()
    r = http.post(f"{base}/api/workspaces/{ws['workspace_id']}/members", json={"email": bob, "role": "admin"},
                  headers=auth)
    assert r.status_code == 201
    members = http.get(f"{base}/api/workspaces/{ws['workspace_id']}/members", headers=auth).json()["members"]
    assert {m["email"]: m["role"] for m in members} == {alice: "owner", bob: "admin"}
    assert http.post(f"{base}/api/auth/logout", headers=auth).status_code == 204
    assert http.get(f"{base}/api/me", headers=auth).status_code == 401


def _login(base, email="demo@costpilot.local", password="demo-password-123"):
    token = http.post(f"{base}/api/auth/login", json={"email": email, "password": password}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _wait_synced(base, auth, ws, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        conns = http.get(f"{base}/api/workspaces/{ws}/connections", headers=auth).json()["connections"]
        if len(conns) >= count and all(c["last_success_at"] for c in conns):
            return conns
        time.sleep(0.5)
    raise AssertionError(f"not synced in {timeout}s: {conns}")


def _fake_billed(base_url: str, start, end) -> Decimal:
    """What the stack's fake OpenAI bills over days [start, end), read from its own Costs API with
    the grouping the client uses (amounts are JSON numbers, converted as the client does)."""
    from datetime import UTC, datetime

    from devstack.fakes.openai import ADMIN_KEY

    params = [("start_time", int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())),
              ("end_time", int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())),
              ("limit", 180), ("group_by[]", "line_item"), ("group_by[]", "project_id")]
    page = http.get(f"{base_url}/v1/organization/costs", params=params,
                     headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    assert not page["has_more"]
    return sum((Decimal(str(r["amount"]["value"])) for b in page["data"] for r in b["results"]), Decimal(0))


def test_connections_sync_and_totals_equal_what_the_fake_billed(stack):
    """Demo connections sync with no user action; a new user's connection syncs on 'sync now'.
    The fake bills the demo's calls and steady traffic besides its seeded ledger, and its recent
    days still fill in, so days up to two days ago are compared with what its own API says."""
    import re
    from datetime import UTC, datetime, timedelta

    from devstack.fakes.openai import ADMIN_KEY

    fake_url = re.search(r"openai (http://\S+?),", "".join(stack.banner)).group(1)
    today = datetime.now(UTC).date()
    start, settled = today - timedelta(days=29), today - timedelta(days=2)  # the Free plan's history window
    expected = _fake_billed(fake_url, start, settled + timedelta(days=1))

    auth = _login(stack.base)
    ws = http.get(f"{stack.base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    _wait_synced(stack.base, auth, ws, 2)
    query = f"from={start}&to={settled}&provider=openai"
    usage = http.get(f"{stack.base}/api/workspaces/{ws}/usage?{query}", headers=auth).json()
    assert Decimal(usage["totals"][0]["billed"]) == expected
    assert usage["over_attributed"] == []  # the fake bills at least what the demo's events cost
    longer = http.get(f"{stack.base}/api/workspaces/{ws}/usage?from={today - timedelta(days=89)}&to={today}",
                       headers=auth).json()
    assert longer["notice"]["code"] == "history_clipped" and longer["from"] == str(start)

    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    http.post(f"{stack.base}/api/auth/signup", json={"email": email, "password": "long enough pw"})
    mine = _login(stack.base, email, "long enough pw")
    my_ws = http.get(f"{stack.base}/api/me", headers=mine).json()["workspaces"][0]["workspace_id"]
    r = http.post(f"{stack.base}/api/workspaces/{my_ws}/connections", headers=mine, json={
        "provider": "openai", "label": "prod org", "credentials": {"admin_key": ADMIN_KEY}})
    assert r.status_code == 201, r.text
    conn = r.json()["connection_id"]
    assert http.post(f"{stack.base}/api/workspaces/{my_ws}/connections/{conn}/sync", headers=mine).status_code == 202
    _wait_synced(stack.base, mine, my_ws, 1)
    mine_usage = http.get(f"{stack.base}/api/workspaces/{my_ws}/usage?{query}", headers=mine).json()
    assert mine_usage["totals"][0]["billed"] == usage["totals"][0]["billed"]


def test_the_demo_today_and_yesterday_do_not_drop_when_a_sync_lands(stack):
    """Today's and yesterday's spend in the demo are provisional and at least what the demo's code
    pushed, whatever the partial bills say."""
    from datetime import UTC, datetime, timedelta

    auth = _login(stack.base)
    ws = http.get(f"{stack.base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    today = datetime.now(UTC).date()
    query = f"from={today - timedelta(days=1)}&to={today}&group_by=provider,feature"
    before = http.get(f"{stack.base}/api/workspaces/{ws}/usage?{query}", headers=auth).json()
    _wait_synced(stack.base, auth, ws, 2)
    after = http.get(f"{stack.base}/api/workspaces/{ws}/usage?{query}", headers=auth).json()
    assert {p["state"] for p in after["series"]} == {"provisional"}
    assert after["over_attributed"] == []

    def pushed(body):
        return sum((Decimal(p["spend"]) for p in body["series"] if not p["unattributed"]), Decimal(0))

    assert pushed(after) == pushed(before) > 0
    assert Decimal(after["totals"][0]["spend"]) >= pushed(after)
    assert all(Decimal(p["spend"]) >= 0 for p in after["series"] if p["unattributed"])


def test_ctrl_c_stops_cleanly_and_starting_again_works(stack):
    assert stack.stop() == 0
    assert "stopped" in "".join(stack.banner)
    again = Stack(stack.port)
    try:
        assert http.get(f"{again.base}/api/openapi.json").status_code == 200
    finally:
        assert again.stop() == 0
