"""SDK and OTLP throughput figures (printed; not part of the tests).

    .venv/bin/python -m bench.sdk_bench                 # all three, starting the local stack
    .venv/bin/python -m bench.sdk_bench --no-stack      # record() overhead only

1. ``record()`` overhead in the caller's thread: 200,000 calls on a client whose transport answers
   at once in memory (the background sender runs, as in production, and competes for the GIL);
   per-call CPU time of the caller's thread (what a busy machine does not inflate), wall-clock
   per-call mean, and the median/p99 of the per-call mean over chunks of 1,000 calls.
2. Events per second one process pushes to the local stack (``python -m devstack``) over real
   HTTP: ``record()`` N events, then ``flush()``, until every event is accepted.
3. OTLP spans per second on the local stack: ExportTraceServiceRequests of 512 GenAI spans (the
   BatchSpanProcessor's default batch) encoded by opentelemetry-proto, posted gzip-compressed.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def record_overhead(calls: int = 200_000, chunk: int = 1000) -> dict:
    import costpilot

    ok = httpx.Response(200, json={"summary": {"accepted": 0, "duplicate": 0, "rejected": 0}, "events": []})
    client = costpilot.Client("cpk_live_bench", "http://bench.local", transport=httpx.MockTransport(lambda r: ok),
                              max_buffer=calls + 1)
    per_chunk = []
    with costpilot.tags(feature="search", customer="acme"):
        cpu_started = time.thread_time()
        started = time.perf_counter()
        for _ in range(calls // chunk):
            t0 = time.perf_counter_ns()
            for _ in range(chunk):
                client.record("openai", "gpt-4o-mini", input_tokens=1200, output_tokens=300)
            per_chunk.append((time.perf_counter_ns() - t0) / chunk / 1000)
        total = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
    client.close()
    per_chunk.sort()
    return {"calls": calls, "caller_cpu_us": round(cpu / calls * 1e6, 2), "mean_us": round(total / calls * 1e6, 2),
            "median_us": round(statistics.median(per_chunk), 2),
            "p99_us": round(per_chunk[int(len(per_chunk) * 0.99) - 1], 2), "dropped": client.stats["dropped"]}


def _account(base: str) -> tuple[str, dict]:
    email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
    with httpx.Client(base_url=base, timeout=120) as http:
        http.post("/api/auth/signup", json={"email": email, "password": "long enough pw"}).raise_for_status()
        token = http.post("/api/auth/login", json={"email": email, "password": "long enough pw"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        ws = http.get("/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
        key = http.post(f"/api/workspaces/{ws}/ingest-keys", json={"name": "bench"}, headers=auth).json()["key"]
    return key, auth


def push_rate(base: str, events: int) -> dict:
    import costpilot

    key, _ = _account(base)
    client = costpilot.Client(key, base, flush_interval=3600, timeout=120)
    started = time.perf_counter()
    for i in range(events):
        client.record("openai", "gpt-4o-mini", input_tokens=1000 + i % 7, output_tokens=300, feature="search")
    client.flush()
    elapsed = time.perf_counter() - started
    client.close()
    return {"events": events, "seconds": round(elapsed, 2), "events_per_s": round(events / elapsed),
            "accepted": client.stats["accepted"], "failed": client.stats["failed"]}


def otlp_rate(base: str, exports: int, spans_per_export: int = 512) -> dict:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    key, _ = _account(base)

    def kv(k, **v):
        return common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(**v))

    now = time.time_ns()
    bodies = []
    for e in range(exports):
        spans = [trace_pb2.Span(trace_id=uuid.uuid4().bytes, span_id=uuid.uuid4().bytes[:8], name="chat gpt-4o-mini",
                                start_time_unix_nano=now - 10**9, end_time_unix_nano=now, attributes=[
                                    kv("gen_ai.provider.name", string_value="openai"),
                                    kv("gen_ai.request.model", string_value="gpt-4o-mini"),
                                    kv("gen_ai.usage.input_tokens", int_value=1000 + e),
                                    kv("gen_ai.usage.output_tokens", int_value=300)])
                 for _ in range(spans_per_export)]
        request = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource_pb2.Resource(attributes=[kv("service.name", string_value="bench")]),
            scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])
        bodies.append(gzip.compress(request.SerializeToString()))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    with httpx.Client(timeout=120) as http:
        started = time.perf_counter()
        for body in bodies:
            http.post(f"{base}/api/otlp/v1/traces", content=body, headers=headers).raise_for_status()
        elapsed = time.perf_counter() - started
    spans = exports * spans_per_export
    return {"spans": spans, "seconds": round(elapsed, 2), "spans_per_s": round(spans / elapsed)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-stack", action="store_true", help="only the record() overhead")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--exports", type=int, default=10)
    args = parser.parse_args()
    print("record() overhead:", record_overhead())
    if args.no_stack:
        return 0
    from tests.e2e.stack import Stack

    stack = Stack()
    try:
        print("push to the local stack:", push_rate(stack.base, args.events))
        print("OTLP to the local stack:", otlp_rate(stack.base, args.exports))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
