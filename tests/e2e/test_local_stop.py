"""Ctrl-C stops the local stack (and ``python -m devstack.fakes``) promptly, whichever of its threads
the kernel hands the signal to and with idle keep-alive connections open to its API, and what it
held is saved."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import uuid

import pytest

from tests.e2e import http as patient
from tests.e2e.stack import ROOT, Stack, signal_a_worker_thread

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


def test_sigint_on_a_worker_thread_stops_the_served_fakes():
    proc = subprocess.Popen([sys.executable, "-m", "devstack.fakes"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        served = [proc.stdout.readline() for _ in range(5)]
        assert all(line.startswith("COSTPILOT_PROVIDER_URL_") for line in served), served
        for line in served:  # each answers (its own error shape: no credentials), as a user would try it
            base = line.split("=", 1)[1].split()[0]
            assert patient.get(f"{base}/v1/models").status_code in (401, 403, 404), line
        signal_a_worker_thread(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0  # a generous bound (a busy runner), not a timing
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
