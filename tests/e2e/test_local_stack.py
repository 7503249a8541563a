"""Starts the real local stack (scripts/dev's entry point) and talks HTTP to it, as a user would."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import httpx
import pytest

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
    r = httpx.post(f"{stack.base}/api/auth/login", json={"email": "demo@costpilot.local", "password": "demo-password-123"})
    assert r.status_code == 200
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    me = httpx.get(f"{stack.base}/api/me", headers=auth).json()
    assert [w["name"] for w in me["workspaces"]] == ["Demo workspace", "Demo: Google Cloud"]
    gcp_ws = me["workspaces"][1]["workspace_id"]  # the fake BigQuery billing export, synced by the runner
    assert [c["provider"] for c in _wait_synced(stack.base, auth, gcp_ws, 1)] == ["gcp"]
    usage = httpx.get(f"{stack.base}/api/workspaces/{gcp_ws}/usage?group_by=model", headers=auth).json()
    assert Decimal(usage["totals"][0]["billed"]) > 0 and "gemini-2.5-flash" in {
        p["group"]["model"] for p in usage["series"]}


def test_signup_login_workspaces_and_members_over_http(stack):
    base = stack.base
    alice, bob = (f"{n}-{uuid.uuid4().hex[:6]}@example.com" for n in ("alice", "bob"))
    for email in (alice, bob):
        assert httpx.post(f"{base}/api/auth/signup", json={"email": email, "password": "long enough pw"}).status_code == 201
    token = httpx.post(f"{base}/api/auth/login", json={"email": alice, "password": "long enough pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    ws = httpx.post(f"{base}/api/workspaces", json={"name": "Team"}, headers=auth).json()
    r = httpx.post(f"{base}/api/workspaces/{ws['workspace_id']}/members", json={"email": bob, "role": "admin"}, headers=auth)
    assert r.status_code == 201
    members = httpx.get(f"{base}/api/workspaces/{ws['workspace_id']}/members", headers=auth).json()["members"]
    assert {m["email"]: m["role"] for m in members} == {alice: "owner", bob: "admin"}
    assert httpx.post(f"{base}/api/auth/logout", headers=auth).status_code == 204
    assert httpx.get(f"{base}/api/me", headers=auth).status_code == 401


def _login(base, email="demo@costpilot.local", password="demo-password-123"):
    token = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": password}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _wait_synced(base, auth, ws, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        conns = httpx.get(f"{base}/api/workspaces/{ws}/connections", headers=auth).json()["connections"]
        if len(conns) >= count and all(c["last_success_at"] for c in conns):
            return conns
        time.sleep(0.5)
    raise AssertionError(f"not synced in {timeout}s: {conns}")


def test_connections_sync_and_totals_equal_what_the_fake_billed(stack):
    """Demo connections sync with no user action; a new user's connection syncs on 'sync now'.
    The fakes are deterministic, so an identically seeded fake here knows what was billed."""
    from datetime import UTC, datetime, timedelta

    from devstack.fakes import FakeOpenAI

    expected_fake = FakeOpenAI(seed=11, history_days=120)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=29)  # the Free plan's history window
    expected = expected_fake.billed_total(start=start)

    auth = _login(stack.base)
    ws = httpx.get(f"{stack.base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    _wait_synced(stack.base, auth, ws, 2)
    query = f"from={start}&to={today}&provider=openai"
    usage = httpx.get(f"{stack.base}/api/workspaces/{ws}/usage?{query}", headers=auth).json()
    assert Decimal(usage["totals"][0]["billed"]) == expected
    longer = httpx.get(f"{stack.base}/api/workspaces/{ws}/usage?from={today - timedelta(days=89)}&to={today}",
                       headers=auth).json()
    assert longer["notice"]["code"] == "history_clipped" and longer["from"] == str(start)

    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    httpx.post(f"{stack.base}/api/auth/signup", json={"email": email, "password": "long enough pw"})
    mine = _login(stack.base, email, "long enough pw")
    my_ws = httpx.get(f"{stack.base}/api/me", headers=mine).json()["workspaces"][0]["workspace_id"]
    r = httpx.post(f"{stack.base}/api/workspaces/{my_ws}/connections", headers=mine, json={
        "provider": "openai", "label": "prod org", "credentials": {"admin_key": expected_fake.admin_key}})
    assert r.status_code == 201, r.text
    conn = r.json()["connection_id"]
    assert httpx.post(f"{stack.base}/api/workspaces/{my_ws}/connections/{conn}/sync", headers=mine).status_code == 202
    _wait_synced(stack.base, mine, my_ws, 1)
    mine_usage = httpx.get(f"{stack.base}/api/workspaces/{my_ws}/usage?{query}", headers=mine).json()
    assert mine_usage["totals"][0]["billed"] == usage["totals"][0]["billed"]


def test_ctrl_c_stops_cleanly_and_starting_again_works(stack):
    assert stack.stop() == 0
    assert "stopped" in "".join(stack.banner)
    again = Stack(stack.port)
    try:
        assert httpx.get(f"{again.base}/api/openapi.json").status_code == 200
    finally:
        assert again.stop() == 0
