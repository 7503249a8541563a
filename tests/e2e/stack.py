"""The real local stack (scripts/dev's entry point) in a subprocess, on free ports, for e2e tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Starts ``python -m devstack`` with a clean environment and waits for its ``ready`` line."""

    def __init__(self, port: int | None = None, startup_seconds: float = 90):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COSTPILOT_"))}
        self.log = open(ROOT / ".pytest-devstack.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--port", str(self.port), "--schedule-seconds", "2",
             "--outbox-port", str(free_port()), "--stripe-port", str(free_port())],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        self.banner: list[str] = []
        deadline = time.time() + startup_seconds
        for line in self.proc.stdout:
            self.banner.append(line)
            if line.strip() == "ready":
                break
            if time.time() > deadline:
                raise TimeoutError("".join(self.banner))
        assert self.proc.poll() is None, "".join(self.banner)

    def banner_url(self, label: str) -> str:
        """A URL the banner prints after ``label`` (e.g. ``Fake Stripe:``)."""
        return re.search(rf"{re.escape(label)}\s+(http://\S+)", "".join(self.banner)).group(1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        rest, _ = self.proc.communicate(timeout=60)
        self.banner.append(rest)
        self.log.close()
        return self.proc.returncode
