"""Ctrl-C stops the local stack promptly, whichever of its threads the kernel hands the signal to
and with idle keep-alive connections open to its API, and what it held is saved."""

from __future__ import annotations

import http.client
import uuid

import pytest

from tests.e2e import http as patient
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e
PASSWORD = "long enough pw"


def _idle_keep_alive(port: int, path: str) -> http.client.HTTPConnection:
    """A connection that got one answer and stays open, idle (as a browser leaves its connections)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200 and not reply.will_close, (port, path, reply.status)
    return conn


def test_sigint_on_a_worker_thread_with_idle_keep_alive_connections_stops_and_keeps_the_data(tmp_path):
    stack = Stack(state_dir=tmp_path / "state", args=("--no-demo", "--provider-history-days", "1"))
    email = f"stopper-{uuid.uuid4().hex[:6]}@example.com"
    idle: list[http.client.HTTPConnection] = []
    try:
        r = patient.post(f"{stack.base}/api/auth/signup", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        idle = [_idle_keep_alive(stack.port, "/api/openapi.json"), _idle_keep_alive(stack.port, "/api/openapi.json")]
        # the bound on the wait is generous (a busy runner); a stack that does not exit fails the test
        assert stack.stop(via_thread=True, timeout=60) == 0
    finally:
        for conn in idle:
            conn.close()
        if stack.proc.poll() is None:
            stack.kill()
    assert "data saved to" in "".join(stack.banner)

    again = stack.restarted(("--no-demo",))
    try:
        r = patient.post(f"{again.base}/api/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        me = patient.get(f"{again.base}/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.status_code == 200 and me.json()["email"] == email, me.text
        sent = patient.get(f"{again.outbox}/messages.json", params={"to": email}).json()
        assert [m["subject"] for m in sent if m["subject"].startswith("Verify your email")], sent
    finally:
        assert again.stop() == 0
