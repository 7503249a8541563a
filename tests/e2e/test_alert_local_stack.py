"""The issue's "done": on the real local stack a user creates "notify me if OpenAI spend exceeds $50
this week", pushes usage past it, and within seconds reads one email (in the local outbox) and one
local webhook delivery that explain the breach; pushing more usage sends nothing more."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.e2e import http
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    yield s
    if s.proc.poll() is None:
        s.stop()


def _outbox(stack) -> str:
    return re.search(r"Outbox \(emails sent\): (\S+)", "".join(stack.banner)).group(1)


def _signup_verified(base: str, outbox: str, email: str) -> None:
    """Signs up and follows the verification link from the outbox: unverified addresses get no alert email."""
    http.post(f"{base}/api/auth/signup", json={"email": email, "password": "long enough pw"}).raise_for_status()
    [mail] = _wait(lambda: _account_mail(outbox, email), 1, timeout=30)
    token = re.search(r"#token=([A-Za-z0-9_-]+)", mail["text"]).group(1)
    http.post(f"{base}/api/auth/verify-email", json={"token": token}).raise_for_status()


def _account_mail(outbox: str, email: str) -> list:
    return [m for m in http.get(f"{outbox}/messages.json", params={"to": email}).json()
            if m["subject"].startswith("Verify your email")]


def _alert_mail(outbox: str, email: str) -> list:
    return [m for m in http.get(f"{outbox}/messages.json", params={"to": email}).json()
            if not m["subject"].startswith("Verify your email")]


def _wait(fetch, count: int, timeout: float) -> list:
    deadline = time.time() + timeout
    while True:
        got = fetch()
        if len(got) >= count or time.time() > deadline:
            return got
        time.sleep(0.1)


def test_openai_weekly_threshold_notifies_once(stack):
    base, outbox = stack.base, _outbox(stack)
    email = f"alice-{uuid.uuid4().hex[:6]}@example.com"
    _signup_verified(base, outbox, email)
    login = http.post(f"{base}/api/auth/login", json={"email": email, "password": "long enough pw"}).json()
    auth = {"Authorization": f"Bearer {login['token']}"}
    ws = http.get(f"{base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    key = http.post(f"{base}/api/workspaces/{ws}/ingest-keys", json={"name": "app"}, headers=auth).json()["key"]
    hook_path = f"/hooks/e2e-{uuid.uuid4().hex[:8]}"
    r = http.post(f"{base}/api/workspaces/{ws}/alerts", headers=auth, json={
        "name": "OpenAI weekly", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
        "scope": {"dimension": "provider", "value": "openai"},
        "channels": [{"type": "email"}, {"type": "webhook", "url": outbox + hook_path}]})
    assert r.status_code == 201, r.text

    def push(cost: str) -> None:
        event = {"id": uuid.uuid4().hex, "timestamp": (datetime.now(UTC) - timedelta(seconds=2)).isoformat(),
                 "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cost": cost}
        reply = http.post(f"{base}/api/webhooks/provider-usage", content=json.dumps({"events": [event]}),
                           headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        assert reply.status_code == 200 and reply.json()["summary"]["accepted"] == 1, reply.text

    def emails() -> list:
        return _alert_mail(outbox, email)

    def hooks() -> list:
        return [h for h in http.get(f"{outbox}/hooks.json").json() if h["path"] == hook_path]

    push("30")
    time.sleep(2.5)
    assert emails() == [] and hooks() == []
    push("25.50")
    [mail] = _wait(emails, 1, timeout=60)
    [hook] = _wait(hooks, 1, timeout=60)
    assert "OpenAI spend is $55.50 this week, over your $50.00 threshold" in mail["subject"]
    assert "Top contributors" in mail["text"] and "gpt-4o" in mail["html"]
    assert hook["body"]["figure"] == "55.5" and hook["headers"]["costpilot-signature"].startswith("t=")

    push("10")
    push("10")
    time.sleep(4)
    assert len(emails()) == 1 and len(hooks()) == 1
    history = http.get(f"{base}/api/workspaces/{ws}/alerts/history", headers=auth).json()["firings"]
    assert len(history) == 1 and {d["status"] for d in history[0]["deliveries"]} == {"sent"}


def test_threshold_on_a_connected_provider_fires_from_pushed_events_before_the_bill(stack):
    """OpenAI is connected and its partial bill for today is stored; code pushes a runaway: the
    daily threshold fires within seconds, from the events, although the bill is below it; the
    next sync stores a larger but still lower partial bill, and nothing fires again."""
    from devstack.fakes.openai import ADMIN_KEY

    base, outbox = stack.base, _outbox(stack)
    email = f"bob-{uuid.uuid4().hex[:6]}@example.com"
    _signup_verified(base, outbox, email)
    login = http.post(f"{base}/api/auth/login", json={"email": email, "password": "long enough pw"}).json()
    auth = {"Authorization": f"Bearer {login['token']}"}
    ws = http.get(f"{base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    key = http.post(f"{base}/api/workspaces/{ws}/ingest-keys", json={"name": "app"}, headers=auth).json()["key"]
    r = http.post(f"{base}/api/workspaces/{ws}/connections", headers=auth, json={
        "provider": "openai", "label": "prod org", "credentials": {"admin_key": ADMIN_KEY}})
    assert r.status_code == 201, r.text
    conn = r.json()["connection_id"]

    def connection() -> dict:
        listed = http.get(f"{base}/api/workspaces/{ws}/connections", headers=auth).json()["connections"]
        return next(c for c in listed if c["connection_id"] == conn)

    def today_usage() -> dict:
        today = datetime.now(UTC).date()
        return http.get(f"{base}/api/workspaces/{ws}/usage?from={today}&to={today}&provider=openai",
                         headers=auth).json()["totals"][0]

    assert _wait(lambda: [1] if connection()["last_success_at"] else [], 1, timeout=240), "no first sync"
    partial = Decimal(today_usage()["billed"])
    assert partial > 0
    threshold = int(partial) + 20
    r = http.post(f"{base}/api/workspaces/{ws}/alerts", headers=auth, json={
        "name": "OpenAI today", "kind": "threshold", "amount": threshold, "period": {"kind": "daily"},
        "scope": {"dimension": "provider", "value": "openai"}, "channels": [{"type": "email"}]})
    assert r.status_code == 201, r.text

    def emails() -> list:
        return _alert_mail(outbox, email)

    time.sleep(2.5)
    assert emails() == []
    runaway = Decimal(threshold + 5)
    event = {"id": uuid.uuid4().hex, "timestamp": (datetime.now(UTC) - timedelta(seconds=2)).isoformat(),
             "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
             "cost": str(runaway)}
    reply = http.post(f"{base}/api/webhooks/provider-usage", content=json.dumps({"events": [event]}),
                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.json()["summary"]["accepted"] == 1, reply.text
    [mail] = _wait(emails, 1, timeout=60)
    assert f"over your ${threshold}.00 threshold" in mail["subject"]
    now = today_usage()  # gpt-4o: the events (above the bill so far); other models: their bill so far
    assert Decimal(now["billed"]) < threshold <= runaway <= Decimal(now["spend"]) <= runaway + Decimal(now["billed"])
    assert now["state"] == "provisional"

    # the next sync stores a larger partial bill, still below the events: nothing fires again
    synced = connection()["last_success_at"]
    assert http.post(f"{base}/api/workspaces/{ws}/connections/{conn}/sync", headers=auth).status_code == 202
    assert _wait(lambda: [1] if connection()["last_success_at"] != synced else [], 1, timeout=120), "no sync"
    later = today_usage()
    assert partial <= Decimal(later["billed"]) < runaway
    assert Decimal(later["spend"]) >= Decimal(now["spend"])  # a partial bill never lowers spend
    time.sleep(4)
    assert len(emails()) == 1
    history = http.get(f"{base}/api/workspaces/{ws}/alerts/history", headers=auth).json()["firings"]
    assert len(history) == 1 and Decimal(history[0]["figure"]) == Decimal(now["spend"])
