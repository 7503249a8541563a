"""The real local stack (scripts/dev's entry point) in a subprocess, on free ports, for e2e tests."""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e import http

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_state() -> Path:
    """A folder with the data of a stack that seeded the demo and was stopped once its connections had
    synced, made once per test run (shared by its xdist workers, under a lock) and UTC day.

    A stack started from a copy restores it in seconds, as ``scripts/dev`` does on every start after
    the first; seeding the same demo again for each test module took ~20 s of moto writes each
    (more on a busy runner). Fresh seeding is still exercised, by this first stack, and so is the
    demo connections' first sync: it is stopped once they have synced, so a copy does not sync three
    months of every demo connection again (in each of ~8 stacks, beside the tests). The demo is
    seeded as of its day ("this morning a support bot looped", a budget near where the month is
    heading): a run that crosses UTC midnight seeds it again, so a later module does not see
    yesterday's demo restored today."""
    run = Path(os.environ.get("COSTPILOT_TEST_RUN_DIR") or _own_run_dir())  # tests/conftest.py sets it
    folder = run / f"demo-{datetime.now(UTC).date().isoformat()}"
    with open(run / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker seeds; the other waits for it, then copies
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            seeded = Stack(state_dir=folder, args=("--fresh",))
            seeded.wait_demo_synced()
            assert seeded.stop() == 0, "".join(seeded.banner)
            (folder / "done").touch()
    return folder


def _own_run_dir() -> str:
    """This process's folder, when no test run has set one (a module imported outside pytest)."""
    folder = tempfile.mkdtemp(prefix="costpilot-demo-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["COSTPILOT_TEST_RUN_DIR"] = folder
    return folder


def signal_a_worker_thread(pid: int, sig: int) -> None:
    """Sends ``sig`` to one of process ``pid``'s threads other than its main thread (``tgkill``), as
    the kernel may deliver a process-wide signal (Ctrl-C, ``kill``) to any thread. Linux."""
    worker = min(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    if ctypes.CDLL(None, use_errno=True).tgkill(pid, worker, sig) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {worker}, {sig}) failed")


class Stack:
    """Starts ``python -m devstack`` with a clean environment and waits for its ``ready`` line.

    Its data is kept in ``state_dir``; without one, in a temporary folder removed on ``stop`` (so
    it never touches the checkout's ``.devstack/``), which starts with the demo's data (a copy of
    ``demo_state()``) unless ``args`` say ``--fresh`` or ``--no-demo``. ``args`` are passed on;
    ``restarted`` starts it again on the same ports and folder."""

    def __init__(self, port: int | None = None, startup_seconds: float = 300, state_dir: Path | None = None,
                 args: tuple[str, ...] = (), outbox_port: int | None = None, stripe_port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.outbox_port = outbox_port or free_port()
        self.stripe_port = stripe_port or free_port()
        self.outbox = f"http://127.0.0.1:{self.outbox_port}"
        self._own_state = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="costpilot-stack-")) if state_dir is None else state_dir
        if self._own_state and not {"--fresh", "--no-demo"} & set(args):  # the demo, restored from a copy
            shutil.copy2(demo_state() / "state.json", self.state_dir / "state.json")
        self.args = tuple(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COSTPILOT_"))}
        self.log = open(ROOT / ".pytest-devstack.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--port", str(self.port), "--schedule-seconds", "2",
             "--outbox-port", str(self.outbox_port), "--stripe-port", str(self.stripe_port),
             "--state-dir", str(self.state_dir), *self.args],
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

    def wait_demo_synced(self, timeout: float = 300) -> None:
        """Waits until every connection of the demo's workspaces has synced once."""
        demo = re.search(r"Demo login:\s+(\S+) / (\S+)", "".join(self.banner))
        login = http.post(f"{self.base}/api/auth/login", json={"email": demo.group(1), "password": demo.group(2)})
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        workspaces = [w["workspace_id"] for w in http.get(f"{self.base}/api/me", headers=auth).json()["workspaces"]]
        deadline = time.time() + timeout
        while True:
            listed = [http.get(f"{self.base}/api/workspaces/{ws}/connections", headers=auth).json()["connections"]
                      for ws in workspaces]
            waiting = [c for connections in listed for c in connections if not c["last_success_at"]]
            if not waiting:
                return
            if time.time() > deadline:
                raise AssertionError(f"the demo's connections never synced: {waiting}")
            time.sleep(0.5)

    def banner_url(self, label: str) -> str:
        """A URL the banner prints after ``label`` (e.g. ``Fake Stripe:``)."""
        return re.search(rf"{re.escape(label)}\s+(http://\S+)", "".join(self.banner)).group(1)

    def stop(self, via_thread: bool = False, timeout: float = 120) -> int:
        """Ctrl-C (SIGINT), then waits for the stack to exit (``timeout`` bounds the wait: a stack
        that does not exit is killed, so it cannot run on behind the tests, and the test fails).

        ``via_thread``: the signal goes to one of the stack's threads other than its main thread, as
        the kernel may deliver a process-wide signal (Ctrl-C, ``kill``) to any thread of a process."""
        if via_thread:
            signal_a_worker_thread(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            if self._own_state:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            raise AssertionError(f"the stack did not exit within {timeout:.0f} s of SIGINT") from None
        self.banner.append(rest)
        self.log.close()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL: a crash, nothing runs on the way out."""
        self.proc.kill()
        rest, _ = self.proc.communicate(timeout=60)
        self.banner.append(rest)
        self.log.close()
        return self.proc.returncode

    def restarted(self, args: tuple[str, ...] = ()) -> Stack:
        """The stack started again (after ``stop``) on the same ports, with the same data folder."""
        return Stack(self.port, state_dir=self.state_dir, args=args, outbox_port=self.outbox_port,
                     stripe_port=self.stripe_port)
