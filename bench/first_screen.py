"""Time to a rendered first screen with data, in the browser, on the demo workspace.

    python -m bench.first_screen                 # starts the local stack (demo data), 10 loads
    python -m bench.first_screen --base http://127.0.0.1:8000 --loads 20   # a stack already running

Logs in as the demo user once, then loads the overview ``--loads`` times in a fresh page each time
(the browser's cache kept, as for someone opening it every morning). For each load: from
navigation start to the spend chart drawn (``.plot[data-drawn]``, set once uPlot has drawn the
data), measured inside the page with ``performance.now()`` by a MutationObserver, and the number of
API calls the page made. Prints the median and the spread, and the machine's load."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WATCH = """
window.__drawnAt = null;
new MutationObserver((_, obs) => {
  if (document.querySelector('.plot[data-drawn]')) { window.__drawnAt = performance.now(); obs.disconnect(); }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-drawn']});
"""


# Where a load's time goes, from the page's own timings (ms from navigation start).
STAGES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const assets = res.filter((r) => !r.name.includes('/api/'));
  const api = res.filter((r) => r.name.includes('/api/') && r.startTime < window.__drawnAt)
    .map((r) => [r.name.split('?')[0].replace(/^.*\\/api\\//, '/api/').replace(/ws_[0-9a-f]+/, 'ws'),
                 r.startTime, r.responseEnd]);
  return {document: nav.responseEnd, assets: Math.max(nav.responseEnd, ...assets.map((r) => r.responseEnd)),
          assetCount: assets.length, api};
}"""


def print_stages(stages: list[dict], drawn: list[float]) -> None:
    """Medians of: the HTML received, the JS and CSS loaded (from cache or not), each API call's start
    and end, and the chart drawn; the gaps between them are the page's own work (JS, render, draw)."""
    med = statistics.median
    print("  where the time goes (medians, ms from navigation start): "
          f"HTML received {med(s['document'] for s in stages):.0f} · "
          f"JS+CSS loaded {med(s['assets'] for s in stages):.0f} ({stages[-1]['assetCount']} files)")
    names = [name for name, _, _ in stages[-1]["api"]]
    for i, name in enumerate(names):
        rows = [s["api"][i] for s in stages if len(s["api"]) > i]
        print(f"    {name}: sent {med(r[1] for r in rows):.0f}, answered {med(r[2] for r in rows):.0f}"
              f" ({med(r[2] - r[1] for r in rows):.0f} ms on the wire and the server)")
    last = [max((r[2] for r in s["api"]), default=s["assets"]) for s in stages]
    after = med(d - e for d, e in zip(drawn, last, strict=True))
    print(f"    chart drawn {med(drawn):.0f} ({after:.0f} ms after the last answer: render and draw)")


def measure(base: str, email: str, password: str, loads: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(base + "/app/login")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.locator(".plot[data-drawn]").wait_for()
        overview = page.url
        page.close()
        times, calls, stages = [], [], []
        for _ in range(loads):
            page = context.new_page()
            seen: list[str] = []
            page.on("request", lambda r, seen=seen: "/api/" in r.url and seen.append(r.url.split("?")[0]))
            page.goto(overview)
            page.locator(".plot[data-drawn]").wait_for(timeout=30000)
            times.append(page.evaluate("window.__drawnAt"))
            page.wait_for_load_state("networkidle")
            stages.append(page.evaluate(STAGES))
            calls.append(len(seen))
            last = seen
            page.close()
        browser.close()
    load = os.getloadavg()
    print(f"first screen with data (navigation start to chart drawn), {loads} loads: "
          f"median {statistics.median(times):.0f} ms, min {min(times):.0f}, max {max(times):.0f}")
    print_stages(stages, times)
    paths = [re.sub(r"ws_[0-9a-f]+", "ws", u.split("127.0.0.1")[-1]) for u in last]
    print(f"API calls per load: {sorted(set(calls))} ({', '.join(paths)})")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running stack's URL (default: start one with the demo data)")
    parser.add_argument("--email", default="demo@costpilot.local")
    parser.add_argument("--password", default="demo-password-123")
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    if args.base:
        measure(args.base.rstrip("/"), args.email, args.password, args.loads)
        return
    import threading

    from tests.e2e.stack import Stack

    stack = Stack()
    threading.Thread(target=lambda: stack.banner.extend(stack.proc.stdout), daemon=True).start()
    try:
        measure(stack.base, args.email, args.password, args.loads)
    finally:
        stack.kill()


if __name__ == "__main__":
    main()
