"""Browser tests: Playwright for Python driving Debian's Chromium against the real local stack.

Each page a test opens records console errors, page errors and failed requests (asserted empty at
the end unless the test expects some); ``shoot`` saves the page at 375 and 1440 px wide under
test-output/browser/ and ``axe`` runs the vendored axe-core on it."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import threading
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.e2e.stack import ROOT, Stack

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
OUT = ROOT / "test-output" / "browser"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PASSWORD = "a long browser password"
#: How long a wait for an element or a page may take before the test fails (Playwright: 30 s).
WAIT_MS = 90_000


@pytest.fixture(scope="module")  # stopped before other modules run: playwright holds an event loop
def stack():
    s = Stack()
    # the app logs every request to stdout: keep reading it, or a full pipe blocks the stack
    drain = threading.Thread(target=lambda: s.banner.extend(s.proc.stdout), daemon=True)
    drain.start()
    yield s
    try:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGINT)
            try:
                s.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a bound: a stack that does not stop is killed, and fails
                s.proc.kill()
                s.proc.wait(timeout=30)
                raise AssertionError("the local stack did not exit within 60 s of SIGINT") from None
    finally:
        drain.join(timeout=10)
        s.log.close()
        shutil.rmtree(s.state_dir, ignore_errors=True)  # its own temporary folder (Stack() without one)


@pytest.fixture(scope="module")  # stopped before other modules run: playwright holds an event loop
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # its default is 5 s
    for stale in OUT.glob("FAILED-*.png"):
        stale.unlink()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Tab:
    """A page in its own context, with what went wrong on it recorded."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        # A wait is for the app to get there, not a speed test: on a loaded machine (two workers,
        # each with its local stack, sync worker and alert evaluator) a wait that takes a second on
        # a quiet one ran past Playwright's default 30 s once.
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.expected_statuses: set[int] = set()
        self.api_calls: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self._problem(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # a request the test's own navigation cut short (net::ERR_ABORTED) is not a failure of the app
        self.page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
                     and self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", self._response)
        self.page.on("request", lambda r: "/api/" in r.url and self.api_calls.append(r.url))

    def _problem(self, text: str) -> None:
        if any(f"status of {s} " in text for s in self.expected_statuses):
            return
        self.problems.append(text)

    def _response(self, r) -> None:
        if r.status >= 400 and r.status not in self.expected_statuses:
            self.problems.append(f"{r.status} {r.request.method} {r.url}")

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shoot(self, name: str) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        for width in (375, 1440):
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.wait_for_timeout(150)  # let the chart follow the resize
            self.page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1440, "height": 900})

    def axe(self) -> list[dict]:
        """Serious or critical axe-core violations on the page as it is now."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE + "\n;0")
        result = self.page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
        return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
                for v in result["violations"] if v["impact"] in ("serious", "critical")]

    def close(self) -> None:
        self.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def tab(request, browser, stack):
    t = Tab(browser, stack.base)
    yield t
    if getattr(request.node, "failed_call", False):  # what the page looked like when the test failed
        OUT.mkdir(parents=True, exist_ok=True)
        t.page.screenshot(path=str(OUT / f"FAILED-{request.node.name}.png"), full_page=True)
        print("problems:", t.problems)
    t.close()


def signup(tab: Tab, prefix: str = "user") -> str:
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    tab.goto("/app/signup")
    tab.page.get_by_label("Email", exact=True).fill(email)
    tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.page.get_by_role("button", name="Sign up").click()
    tab.page.wait_for_url(re.compile(r"/app/workspaces/ws_\w+/onboarding$"))
    return email


def workspace_of(tab: Tab) -> str:
    return re.search(r"/workspaces/(ws_\w+)", tab.page.url).group(1)


def dollars(amount: str | Decimal) -> str:
    """What the page shows for an API amount: $ and cents, half up, thousands separated."""
    cents = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "−" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"
