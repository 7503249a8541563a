"""The issue's "done" on the real local stack over real HTTP: a five-line script with the official
openai client (its transport pointed at a local fake) records usage through the installed SDK
(flushed at exit), `costpilot spend` shows it; the real OpenTelemetry OTLP/HTTP exporter (protobuf,
gzip) turns a GenAI span into spend, and exporting it again changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.e2e.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

SCRIPT = textwrap.dedent("""
    import costpilot, httpx2, openai
    from tests.sdk.provider_fakes import ProviderFake
    client = costpilot.instrument_openai(openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1",
                                                       http_client=httpx2.Client(transport=ProviderFake().transport())))
    with costpilot.tags(feature="e2e-sdk"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
""")


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture(scope="module")
def account(stack):
    base = stack.base
    email = f"sdk-{uuid.uuid4().hex[:6]}@example.com"
    httpx.post(f"{base}/api/auth/signup", json={"email": email, "password": "long enough pw"}).raise_for_status()
    login = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": "long enough pw"}).json()
    auth = {"Authorization": f"Bearer {login['token']}"}
    ws = httpx.get(f"{base}/api/me", headers=auth).json()["workspaces"][0]["workspace_id"]
    key = httpx.post(f"{base}/api/workspaces/{ws}/ingest-keys", json={"name": "app"}, headers=auth).json()["key"]
    token = httpx.post(f"{base}/api/me/tokens", json={"name": "cli"}, headers=auth).json()["token"]
    return {"ws": ws, "key": key, "token": token, "auth": auth}


def env(**extra):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COSTPILOT_"))}
    return {**clean, **extra}


def spend(stack, account, group_by):
    today = datetime.now(UTC).date().isoformat()
    r = httpx.get(f"{stack.base}/api/workspaces/{account['ws']}/usage?from={today}&to={today}&group_by={group_by}",
                  headers=account["auth"])
    assert r.status_code == 200, r.text
    return {tuple(p["group"].values()): Decimal(p["spend"]) for p in r.json()["series"]}


def test_a_five_line_openai_script_shows_in_costpilot_spend(stack, account, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    run = subprocess.run([sys.executable, str(script)], check=False, cwd=ROOT, capture_output=True, text=True,
                         timeout=60,
                         env=env(COSTPILOT_INGEST_KEY=account["key"], COSTPILOT_URL=stack.base,
                                 PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr
    cli = Path(sys.executable).parent / "costpilot"
    today = datetime.now(UTC).date().isoformat()
    out = subprocess.run([str(cli), "spend", "--from", today, "--to", today, "--group-by", "feature"],
                         check=False, capture_output=True, text=True, timeout=60,
                         env=env(COSTPILOT_TOKEN=account["token"], COSTPILOT_URL=stack.base,
                                 XDG_CONFIG_HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "e2e-sdk" in line)
    assert "0.000345" in row  # 1,000 + 200 cached input and 300 output tokens of gpt-4o-mini


def test_the_otlp_exporter_turns_genai_spans_into_spend_once(stack, account):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "e2e-otel"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("e2e").start_as_current_span("chat claude-haiku-4-5", attributes={
            "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}):
        pass
    spans = memory.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=f"{stack.base}/api/otlp/v1/traces", compression=Compression.Gzip,
                                headers={"Authorization": f"Bearer {account['key']}"})
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    first = spend(stack, account, "project")
    assert first[("e2e-otel",)] == Decimal("0.002")  # $1/M input, $5/M output
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert spend(stack, account, "project") == first
