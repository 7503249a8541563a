"""Latency from a usage push to a dispatched notification, on the local stack.

Starts the local stack (``python -m devstack``) on free ports, signs up, makes an ingest key, and
then, run after run: creates a threshold alert just above today's spend with an email channel and
a webhook channel (a receiver in this process), pushes one event over HTTP that crosses it, and
times the webhook's arrival and the email's appearance in the emulated SES (the outbox). Prints
each run and the median and p95. The path measured is the deployed one: push endpoint ->
coalescing marker + SQS (DelaySeconds = COSTPILOT_ALERT_COALESCE_SECONDS, default 1 s) -> runner
(Lambda's SQS poller) -> evaluator -> record -> SES / webhook.

    .venv/bin/python -m bench.alert_latency --runs 30
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack() -> tuple[subprocess.Popen, str, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COSTPILOT_"))}
    proc = subprocess.Popen([sys.executable, "-m", "devstack", "--port", str(port), "--no-demo",
                             "--schedule-seconds", "3600", "--outbox-port", str(_free_port())],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = []
    for line in proc.stdout:
        banner.append(line)
        if line.strip() == "ready":
            break
    text = "".join(banner)
    outbox = re.search(r"Outbox \(emails sent\): (\S+)", text)
    if proc.poll() is not None or not outbox:
        raise SystemExit("the local stack did not start:\n" + text)
    return proc, f"http://127.0.0.1:{port}", outbox.group(1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for one notification")
    args = p.parse_args(argv)

    import logging

    from devstack.receivers import Receiver

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    proc, base, outbox = start_stack()
    client = httpx.Client(timeout=10)
    try:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        login = {"email": email, "password": "bench password 123"}
        client.post(f"{base}/api/auth/signup", json=login).raise_for_status()
        token = client.post(f"{base}/api/auth/login", json=login).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        ws = client.get(f"{base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
        key = client.post(f"{base}/api/workspaces/{ws}/ingest-keys", json={"name": "bench"}, headers=auth).json()["key"]
        spent = Decimal(0)
        hook_times, mail_times, both = [], [], []
        with Receiver() as receiver:
            for run in range(1, args.runs + 1):
                alert = client.post(f"{base}/api/workspaces/{ws}/alerts", headers=auth, json={
                    "name": f"bench {run}", "kind": "threshold", "amount": str(spent + 1), "period": {"kind": "daily"},
                    "scope": {"dimension": "provider", "value": "openai"},
                    "channels": [{"type": "email"}, {"type": "webhook", "url": receiver.url(f"/run{run}")}]}).json()
                time.sleep(3)  # let the new rule's own evaluation pass: it must not be what we time
                mails_before = len(client.get(f"{outbox}/messages.json", params={"to": email}).json())
                hooks_before = len(receiver.requests)
                event = {"id": uuid.uuid4().hex, "timestamp": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
                         "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
                         "cost": "2"}
                started = time.perf_counter()
                r = client.post(f"{base}/api/webhooks/provider-usage", content=json.dumps({"events": [event]}),
                                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
                r.raise_for_status()
                spent += 2
                hook_at = mail_at = None
                deadline = started + args.timeout
                while (hook_at is None or mail_at is None) and time.perf_counter() < deadline:
                    if hook_at is None and len(receiver.requests) > hooks_before:
                        hook_at = time.perf_counter()
                    if mail_at is None and len(client.get(f"{outbox}/messages.json",
                                                          params={"to": email}).json()) > mails_before:
                        mail_at = time.perf_counter()
                    time.sleep(0.02)
                client.delete(f"{base}/api/workspaces/{ws}/alerts/{alert['alert_id']}", headers=auth)
                if hook_at is None or mail_at is None:
                    print(f"run {run:3d}: no notification within {args.timeout:.0f} s")
                    continue
                hook_times.append(hook_at - started)
                mail_times.append(mail_at - started)
                both.append(max(hook_at, mail_at) - started)
                print(f"run {run:3d}: webhook {hook_times[-1]:.2f} s, email {mail_times[-1]:.2f} s")
        if not both:
            print("no run produced a notification")
            return 1
        print(f"\npush -> notification on the local stack, {len(both)} of {args.runs} runs "
              f"(coalescing window {os.environ.get('COSTPILOT_ALERT_COALESCE_SECONDS', '1')} s):")
        for name, values in (("webhook", hook_times), ("email", mail_times), ("both", both)):
            print(f"  {name:8s} median {statistics.median(values):.2f} s   p95 {percentile(values, 0.95):.2f} s   "
                  f"max {max(values):.2f} s")
        return 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
