"""Write cost of OTLP GenAI spans, in DynamoDB write units per 1,000 spans.

    python -m bench.otlp_bench                 # 5,000 spans in exports of 512 over a day
    python -m bench.otlp_bench --spans 20000 --export-size 512

Spans go through the real path (services.otlp_ingest.export_traces: ingest key, decoding, GenAI
mapping, pricing, dedup, rollups, quota) into moto; write units are priced from the items actually
stored, as in bench/usage_bench.py (a transactional write costs 2 WCU per 1 KB of each item). A
second export of the same spans is timed and priced too (it must store nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.usage_bench import Meter  # sets the bench environment first

# the "test" stage: the one chalice's test client runs with (.chalice/config.json)
os.environ.update({"COSTPILOT_STAGE": "test", "COSTPILOT_SECRET_TOKEN_SIGNING_KEY": "bench-signing-key-0123456789abcd",
                   "COSTPILOT_ARGON2_TIME_COST": "1", "COSTPILOT_ARGON2_MEMORY_KIB": "1024"})

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4")]
SERVICES = ["checkout", "search", "support", "reports"]


def _attr(key: str, value: object) -> dict:
    return {"key": key, "value": {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}}


def exports(n: int, size: int, rng: random.Random) -> list[tuple[datetime, bytes]]:
    """``(sent at, OTLP/JSON body)``: exports spread evenly over the day before ``NOW``, each of
    GenAI chat spans that ended in the 5 seconds before it was sent (as a BatchSpanProcessor sends)."""
    count = -(-n // size)
    bodies = []
    for k, start in enumerate(range(0, n, size)):
        sent = NOW - timedelta(days=1) + timedelta(seconds=(k + 1) * 86_400 / count)
        spans = []
        for _ in range(start, min(n, start + size)):
            provider, model = rng.choice(MODELS)
            nanos = int((sent - timedelta(milliseconds=rng.randrange(5000))).timestamp() * 10**9)
            spans.append({"traceId": f"{rng.getrandbits(128):032x}", "spanId": f"{rng.getrandbits(64):016x}",
                          "name": f"chat {model}", "startTimeUnixNano": str(nanos - 900_000_000),
                          "endTimeUnixNano": str(nanos),
                          "attributes": [_attr("gen_ai.provider.name", provider), _attr("gen_ai.request.model", model),
                                         _attr("gen_ai.usage.input_tokens", rng.randrange(50, 4000)),
                                         _attr("gen_ai.usage.output_tokens", rng.randrange(10, 800))]})
        resource = {"attributes": [_attr("service.name", rng.choice(SERVICES))]}
        export = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
        bodies.append((sent, json.dumps(export).encode()))
    return bodies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--export-size", type=int, default=512)
    args = parser.parse_args()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from devstack import moto_fixes
    from devstack.provision import provision

    moto_fixes.install()
    with mock_aws():
        provision(boto3.session.Session(region_name="us-east-1"), {"Stage": "test"})
        import app as app_module
        from chalicelib.services import otlp_ingest
        from chalicelib.store import usage

        with Client(app_module.app, stage_name="test", project_dir=str(Path(__file__).resolve().parent.parent)) as c:
            creds = {"email": "bench@example.com", "password": "correct horse battery staple"}
            signup = json.loads(c.http.post("/api/auth/signup", body=json.dumps(creds),
                                            headers={"content-type": "application/json"}).body)
            login = c.http.post("/api/auth/login", body=json.dumps(creds), headers={"content-type": "application/json"})
            assert login.status_code == 200, login.body
            token = json.loads(login.body)["token"]
            made = c.http.post(f"/api/workspaces/{signup['workspace_id']}/ingest-keys",
                               body=json.dumps({"name": "otel"}),
                               headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
            key = json.loads(made.body)["key"]
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        bodies = exports(args.spans, args.export_size, random.Random(args.spans))
        meter = Meter(usage._db())
        usage._db = lambda: meter
        figures = []
        for label in ("first export", "same spans again"):
            meter.write_units = meter.id_read_units = 0.0
            accepted = 0
            started = time.perf_counter()
            for sent, body in bodies:
                accepted += otlp_ingest.export_traces(headers, body, now=sent).accepted
            seconds = time.perf_counter() - started
            figures.append((label, accepted, seconds, meter.write_units, meter.id_read_units))
            if label == "first export":
                by_kind = {k: round(v * 1000 / args.spans, 1) for k, v in sorted(meter.write_units_by_kind.items())}
    print(f"{args.spans:,} GenAI spans in exports of {args.export_size} (units from stored item sizes)")
    print(f"{'':>18} {'accepted':>9} {'spans/s':>9} {'WCU/1000 spans':>15} {'id-check RCU/1000':>18}")
    for label, accepted, seconds, wcu, rcu in figures:
        print(f"{label:>18} {accepted:>9,} {args.spans / seconds:>9,.0f} {wcu * 1000 / args.spans:>15.1f} "
              f"{rcu * 1000 / args.spans:>18.1f}")
    print(f"first export's WCU/1000 spans by item kind: {by_kind}")
    print(f"aim: under 100 WCU per 1,000 spans ({figures[0][3] * 1000 / args.spans:.1f}); cpus={os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
