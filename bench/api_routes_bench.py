"""Time and DynamoDB requests of the routes behind the dashboard's pages, on the demo data.

    python -m bench.api_routes_bench            # 20 calls per route
    python -m bench.api_routes_bench --runs 50
    python -m bench.api_routes_bench --only insights --explain      # one route, its DynamoDB requests named
    python -m bench.api_routes_bench --only summary --profile summary --sort tottime   # where its time goes

The Chalice app in-process against moto (the tests' setup and stage), the demo seeded as on the local stack
(OpenAI and Anthropic fakes served on loopback, synced, three months pushed, the demo's alerts and
firings). Each call goes through the app with a bearer token, so authentication is included. The
DynamoDB request count comes from botocore's ``before-call.dynamodb.*`` event on every client the
process creates; it is the same on every machine. Times are wall-clock medians on this machine
(moto answers in-process: a real DynamoDB adds its network round trips, about 5-10 ms each)."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({
    "COSTPILOT_STAGE": "test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
    "COSTPILOT_SECRET_TOKEN_SIGNING_KEY": "bench-signing-key-0123456789abcdef0123456789",
    "COSTPILOT_SECRET_STRIPE_SECRET_KEY": "sk_test_bench", "COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET": "whsec_bench",
    "COSTPILOT_STRIPE_PRICE_PRO": "price_bench_pro", "COSTPILOT_STRIPE_PRICE_TEAM": "price_bench_team",
})
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(name, None)

TARGETS_MS = {"usage": 150, "forecast": 150, "insights": 150, "summary": 150}  # the rest: 50 ms


class DynamoCounter:
    """Counts DynamoDB requests on every botocore client created after ``install``."""

    def __init__(self) -> None:
        self.count = 0
        self.calls: list[str] = []

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        counter = self

        def create_client(session, *args, **kwargs):
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call.dynamodb.*", counter._seen)
            return client

        botocore.session.Session.create_client = create_client

    def _seen(self, model=None, params=None, **_kwargs) -> None:
        self.count += 1
        table = (params or {}).get("TableName", "")
        self.calls.append(f"{model.name if model else '?'} {table.split('-', 2)[-1]}")


def routes(ws: str, today) -> list[tuple[str, str]]:
    first = (today - timedelta(days=89)).isoformat()
    base = f"/api/workspaces/{ws}"
    return [
        ("me", "/api/me"),
        ("connections", f"{base}/connections"),
        ("alerts", f"{base}/alerts"),
        ("alert history", f"{base}/alerts/history"),
        ("billing", f"{base}/billing"),
        ("usage", f"{base}/usage?from={first}&to={today.isoformat()}&group_by=provider"),
        ("forecast", f"{base}/forecast"),
        ("insights", f"{base}/insights"),
        ("summary", f"{base}/summary"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="list each route's DynamoDB requests")
    parser.add_argument("--only", action="append", default=[], help="bench only these routes (repeatable)")
    parser.add_argument("--profile", metavar="ROUTE", help="cProfile ROUTE's calls; print the top functions")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key for --profile (e.g. tottime)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    counter = DynamoCounter()
    counter.install()

    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from devstack import local_gateway, moto_fixes
    from devstack.provision import provision

    moto_fixes.install()
    with mock_aws():
        aws_clients.reset()
        provision(boto3.session.Session(region_name="us-east-1"), {"Stage": "test"})
        from decimal import Decimal

        from devstack.fakes import FakeAnthropic, FakeOpenAI, serve
        from devstack.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        fakes = {"openai": FakeOpenAI(seed=11, history_days=120, background_per_second=Decimal("0.0001")),
                 "anthropic": FakeAnthropic(seed=12, history_days=120, background_per_second=Decimal("0.00005"))}
        served = {name: serve(fake) for name, fake in fakes.items()}
        for name, s in served.items():
            os.environ[f"COSTPILOT_PROVIDER_URL_{name.upper()}"] = s.base_url
        started = time.perf_counter()
        seed_demo({name: fake.admin_key for name, fake in fakes.items()}, bill_to=fakes)
        print(f"demo seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        import app as app_module
        from chalicelib.services import usage_queries

        local_gateway.install()
        with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
            import json

            credentials = json.dumps({"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
            login = client.http.post("/api/auth/login", body=credentials, headers={"content-type": "application/json"})
            token = json.loads(login.body)["token"]
            headers = {"authorization": f"Bearer {token}"}
            me = json.loads(client.http.get("/api/me", headers=headers).body)
            ws = me["workspaces"][0]["workspace_id"]
            print(f"{'route':15} {'median ms':>9} {'p90 ms':>7} {'DynamoDB':>8} {'target':>7}")
            for name, path in routes(ws, usage_queries.today()):
                if args.only and name not in args.only:
                    continue
                times, counts = [], []
                profiler = cProfile.Profile() if name == args.profile else None
                for run in range(args.runs + 1):  # the first call warms imports and caches: not counted
                    counter.count, counter.calls = 0, []
                    if profiler and run:
                        profiler.enable()
                    t = time.perf_counter()
                    r = client.http.get(path, headers=headers)
                    if profiler and run:
                        profiler.disable()
                    times.append((time.perf_counter() - t) * 1000)
                    counts.append(counter.count)
                    assert r.status_code == 200, (path, r.status_code, r.body[:300])
                times, counts = times[1:], counts[1:]
                target = TARGETS_MS.get(name.split()[0], 50)
                median = statistics.median(times)
                p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 2 else median
                spread = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
                print(f"{name:15} {median:9.1f} {p90:7.1f} {spread:>8} {target:>5} ms"
                      f"{'' if median <= target else '  over'}")
                if args.explain:
                    print("      " + ", ".join(counter.calls))
                if profiler:
                    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
        for s in served.values():
            s.stop()
    load = os.getloadavg()
    print(f"runs per route: {args.runs}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
