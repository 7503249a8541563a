"""The local stack keeps its data: stopped with Ctrl-C (SIGINT) and started again with the same data
folder, a user's session, connection (its KMS-sealed key), ingest key, alert (its sealed webhook
URL and firing state) and alert history, the outbox and the webhook receivers' requests are all
still there, and keep working; after a crash (SIGKILL) what was saved seconds before is back;
``--fresh`` starts empty."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import pytest

from devstack.fakes.openai import ADMIN_KEY
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e
PASSWORD = "long enough pw"
get = partial(httpx.get, timeout=30)  # a shared laptop or CI runner can be slow; correctness is what is tested
post = partial(httpx.post, timeout=30)


def _wait(fetch, done, timeout: float = 30):
    deadline = time.time() + timeout
    while True:
        got = fetch()
        if done(got) or time.time() > deadline:
            return got
        time.sleep(0.2)


class User:
    def __init__(self, stack: Stack, email: str, token: str):
        self.stack, self.email, self.token = stack, email, token
        self.auth = {"Authorization": f"Bearer {token}"}
        self.ws = ""

    def get(self, path: str) -> httpx.Response:
        return get(f"{self.stack.base}/api/workspaces/{self.ws}{path}", headers=self.auth)

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return post(f"{self.stack.base}/api/workspaces/{self.ws}{path}", headers=self.auth, json=body)

    def connection(self, connection_id: str) -> dict:
        [c] = [c for c in self.get("/connections").json()["connections"] if c["connection_id"] == connection_id]
        return c

    def firings(self) -> list[dict]:
        return self.get("/alerts/history").json()["firings"]

    def emails(self) -> list[dict]:
        """The alert emails (the sign-up's verification email left out)."""
        sent = get(f"{self.stack.outbox}/messages.json", params={"to": self.email}).json()
        return [m for m in sent if not m["subject"].startswith("Verify your email")]

    def verify(self) -> None:
        """Follows the sign-up's verification link: unverified addresses receive no alert email."""
        sent = get(f"{self.stack.outbox}/messages.json", params={"to": self.email}).json()
        [mail] = [m for m in sent if m["subject"].startswith("Verify your email")]
        token = re.search(r"#token=([A-Za-z0-9_-]+)", mail["text"]).group(1)
        assert post(f"{self.stack.base}/api/auth/verify-email", json={"token": token}).status_code < 300

    def hooks(self, path: str) -> list[dict]:
        return [h for h in get(f"{self.stack.outbox}/hooks.json").json() if h["path"] == path]


def _push(stack: Stack, ingest_key: str, cost: str) -> None:
    """Spend pushed for a provider the workspace has no connection to, so the alert sees just this."""
    event = {"id": uuid.uuid4().hex, "timestamp": (datetime.now(UTC) - timedelta(seconds=2)).isoformat(),
             "provider": "anthropic", "model": "claude-3-5-haiku", "input_tokens": 1000, "output_tokens": 100,
             "cost": cost}
    reply = post(f"{stack.base}/api/webhooks/provider-usage", content=json.dumps({"events": [event]}),
                       headers={"Authorization": f"Bearer {ingest_key}", "Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.json()["summary"]["accepted"] == 1, reply.text


def _synced_after(user: User, connection_id: str, after: str) -> dict:
    assert user.post(f"/connections/{connection_id}/sync").status_code == 202
    return _wait(lambda: user.connection(connection_id),
                 lambda c: (c["last_success_at"] or "") > after or c["last_error"] is not None, timeout=90)


def test_stop_crash_and_start_again_keep_everything_and_fresh_starts_empty(tmp_path):
    state = tmp_path / "state"
    first = Stack(state_dir=state, args=("--no-demo", "--provider-history-days", "7"))  # short syncs
    try:
        email = f"keeper-{uuid.uuid4().hex[:6]}@example.com"
        assert post(f"{first.base}/api/auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
        token = post(f"{first.base}/api/auth/login", json={"email": email, "password": PASSWORD}).json()["token"]
        user = User(first, email, token)
        user.verify()
        user.ws = get(f"{first.base}/api/me", headers=user.auth).json()["workspaces"][0]["workspace_id"]
        r = user.post("/connections", {"provider": "openai", "label": "prod org",
                                       "credentials": {"admin_key": ADMIN_KEY}})
        assert r.status_code == 201, r.text
        conn = r.json()["connection_id"]  # its admin key is sealed under the stack's KMS key
        ingest_key = user.post("/ingest-keys", {"name": "app"}).json()["key"]
        hook = f"/hooks/keep-{uuid.uuid4().hex[:8]}"
        r = user.post("/alerts", {"name": "Monthly budget", "kind": "budget", "amount": 100, "levels": [50, 100],
                                  "period": {"kind": "monthly"},
                                  "scope": {"dimension": "provider", "value": "anthropic"},
                                  "channels": [{"type": "email"}, {"type": "webhook", "url": first.outbox + hook}]})
        assert r.status_code == 201, r.text
        _push(first, ingest_key, "60")
        assert len(_wait(lambda: user.hooks(hook), lambda got: len(got) >= 1)) == 1
        assert len(_wait(user.emails, lambda got: len(got) >= 1)) == 1
        assert [f["level"] for f in _wait(user.firings, lambda got: len(got) >= 1)] == ["50"]
    finally:
        assert first.stop() == 0
    assert "data saved to" in "".join(first.banner)

    second = first.restarted(("--no-demo",))
    try:
        assert "Data restored from" in "".join(second.banner)
        user.stack = second
        assert get(f"{second.base}/api/me", headers=user.auth).status_code == 200  # signing key kept
        # the sealed provider key still opens: a sync after the restart succeeds
        restarted_at = datetime.now(UTC).isoformat()
        synced = _synced_after(user, conn, restarted_at)
        assert synced["last_success_at"] > restarted_at and synced["last_error"] is None, synced
        # history, outbox and receivers kept
        assert [f["level"] for f in user.firings()] == ["50"]
        assert len(user.emails()) == 1 and len(user.hooks(hook)) == 1
        # the alert keeps firing from where it was: level 100 now (its sealed URL opens), 50 not again
        _push(second, ingest_key, "50")
        assert [f["level"] for f in _wait(user.firings, lambda got: len(got) >= 2)] == ["100", "50"]
        assert len(_wait(lambda: user.hooks(hook), lambda got: len(got) >= 2)) == 2
        assert len(_wait(user.emails, lambda got: len(got) >= 2)) == 2
        assert all(d["status"] == "sent" for f in user.firings() for d in f["deliveries"])
        # saved within seconds of the change, so a crash keeps it
        latest = user.firings()[0]["firing_id"]
        assert latest in _wait(lambda: (state / "state.json").read_text(), lambda text: latest in text)
    finally:
        second.kill()

    third = first.restarted(("--no-demo",))
    try:
        user.stack = third
        assert [f["level"] for f in user.firings()] == ["100", "50"]
    finally:
        assert third.stop() == 0

    fresh = first.restarted(("--fresh", "--no-demo", "--provider-history-days", "7"))
    try:
        assert "Data restored from" not in "".join(fresh.banner)
        assert post(f"{fresh.base}/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
        assert get(f"{fresh.base}/api/me", headers=user.auth).status_code == 401
        assert get(f"{fresh.outbox}/hooks.json").json() == []
    finally:
        assert fresh.stop() == 0
