"""OTLP/HTTP ingestion through the app: the real opentelemetry-sdk and its OTLP/HTTP protobuf
exporter (gzip) export GenAI spans to POST /api/otlp/v1/traces (chalice's test client behind a
requests adapter); the spans become spend, a second export of the same spans changes nothing,
non-GenAI spans are counted in partial_success, and bad exports get a google.rpc.Status 4xx."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

URL = "http://costpilot.local/api/otlp/v1/traces"


class ChaliceAdapter(requests.adapters.BaseAdapter):
    """requests -> chalice's test client, recording each answer."""

    def __init__(self, client):
        super().__init__()
        self.client = client
        self.replies: list[requests.Response] = []

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        body = request.body or b""
        r = self.client.http.request(request.method, url.path + (f"?{url.query}" if url.query else ""),
                                     headers=dict(request.headers),
                                     body=body.encode() if isinstance(body, str) else body)
        response = requests.Response()
        response.status_code, response._content = r.status_code, r.body
        response.url, response.request = request.url, request
        response.headers = requests.structures.CaseInsensitiveDict(r.headers)
        self.replies.append(response)
        return response

    def close(self):
        pass


@pytest.fixture
def key(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "otel"}, token=user.token)
    assert r.status == 201
    return r.json["key"]


@pytest.fixture
def adapter(api):
    return ChaliceAdapter(api.client)


def exporter(adapter, key):
    session = requests.Session()
    session.mount("http://", adapter)
    return OTLPSpanExporter(endpoint=URL, headers={"Authorization": f"Bearer {key}"}, session=session,
                            compression=Compression.Gzip)


def spend(api, user, group_by="project,feature"):
    """Spend per group over yesterday and today, read at call time (safe when a run crosses midnight)."""
    today = datetime.now(UTC).date()
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={today - timedelta(days=1)}&to={today}"
                f"&group_by={group_by}", token=user.token)
    assert r.status == 200, r.body
    totals: dict[tuple, Decimal] = {}
    for p in r.json["series"]:
        key = tuple(p["group"].values())
        totals[key] = totals.get(key, Decimal(0)) + Decimal(p["spend"])
    return {k: v for k, v in totals.items() if v}


def test_exported_genai_spans_become_spend_once(api, user, key, adapter):
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /search"):  # not GenAI: ignored, counted
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300, "gen_ai.usage.cache_read.input_tokens": 200,
            "costpilot.feature": "search"}):
            pass
        with tracer.start_as_current_span("anthropic.chat", attributes={  # OpenLLMetry's spelling, with a cost
            "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-haiku-4-5",
            "gen_ai.usage.prompt_tokens": 100, "gen_ai.usage.completion_tokens": 50, "gen_ai.usage.cost": 0.25,
            "costpilot.feature": "chat"}):
            pass
    spans = memory.get_finished_spans()
    assert len(spans) == 3

    otlp = exporter(adapter, key)
    assert otlp.export(spans) is SpanExportResult.SUCCESS
    reply = adapter.replies[-1]
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/x-protobuf"
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(reply.content).partial_success
    assert partial.rejected_spans == 1 and "ignored" in partial.error_message

    first = spend(api, user)
    # 1,000 uncached + 200 cached input and 300 output tokens of gpt-4o-mini at catalogue prices
    assert first == {("checkout", "search"): Decimal("0.000345"), ("checkout", "chat"): Decimal("0.25")}

    assert otlp.export(spans) is SpanExportResult.SUCCESS  # the same spans again
    assert spend(api, user) == first


def test_otlp_json_export(api, user, key):
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                               "scopeSpans": [{"scope": {"name": "openinference"}, "spans": [{
                                   "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                                   "name": "ChatCompletion", "kind": 3,
                                   "startTimeUnixNano": str(int(datetime.now(UTC).timestamp() * 1e9) - 10**9),
                                   "endTimeUnixNano": str(int(datetime.now(UTC).timestamp() * 1e9)),
                                   "attributes": [
                                       {"key": "llm.provider", "value": {"stringValue": "openai"}},
                                       {"key": "llm.model_name", "value": {"stringValue": "gpt-4o-mini"}},
                                       {"key": "llm.token_count.prompt", "value": {"intValue": "1000"}},
                                       {"key": "llm.token_count.completion", "value": {"intValue": 300}},
                                       {"key": "costpilot.cost", "value": {"stringValue": "0.0042"}}]}]}]}]}
    h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    r = api.call("POST", "/api/otlp/v1/traces", body=json.dumps(body), headers=h)
    assert r.status == 200, r.body
    assert "partialSuccess" not in r.json and r.json["costpilot"]["accepted"] == 1
    assert spend(api, user, "project") == {("api",): Decimal("0.0042")}
    again = api.call("POST", "/api/otlp/v1/traces", body=gzip.compress(json.dumps(body).encode()),
                     headers={**h, "Content-Encoding": "gzip"})
    assert again.status == 200 and again.json["costpilot"]["duplicate"] == 1
    assert spend(api, user, "project") == {("api",): Decimal("0.0042")}


def status_of(reply):
    return status_pb2.Status.FromString(reply.body)


@pytest.mark.parametrize("body, encoding, status, message", [
    (b"\x0a\x05\x01", None, 400, "not a valid ExportTraceServiceRequest"),
    (b"not gzip", "gzip", 400, "not valid gzip"),
    (gzip.compress(b"\x00" * (17 * 1024 * 1024)), "gzip", 413, "inflates past"),
    (b"x", "br", 400, "Content-Encoding"),
])
def test_bad_protobuf_exports_get_a_status_not_a_500(api, user, key, body, encoding, status, message):
    h = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf", "Accept": "*/*"}
    if encoding:
        h["Content-Encoding"] = encoding
    r = api.call("POST", "/api/otlp/v1/traces", body=body, headers=h)
    assert r.status == status and r.headers["content-type"] == "application/x-protobuf"
    assert message in status_of(r).message and status_of(r).code in (3, 8)
    assert spend(api, user) == {}


def test_auth_and_json_errors(api, user, key):
    r = api.call("POST", "/api/otlp/v1/traces", body=b"", headers={"Content-Type": "application/x-protobuf",
                                                                    "Accept": "application/x-protobuf"})
    assert r.status == 401 and status_of(r).code == 16
    r = api.call("POST", "/api/otlp/v1/traces", body=b"\x0a\x05\x01", headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"})  # no Accept: JSON Status
    assert r.status == 400 and r.json["code"] == 3 and r.headers["content-type"] == "application/json"
    r = api.call("POST", "/api/otlp/v1/traces", body=b"{}", headers={"Content-Type": "application/json",
                                                                       "Authorization": "Bearer cpk_live_nope"})
    assert r.status == 401 and r.json["code"] == 16 and r.json["error"]["code"] == "unauthenticated"
    r = api.call("POST", "/api/otlp/v1/traces", body=b"{not json", headers={"Content-Type": "application/json",
                                                                             "Authorization": f"Bearer {key}"})
    assert r.status == 400 and r.json["code"] == 3 and "JSON" in r.json["message"]
    r = api.call("POST", "/api/otlp/v1/traces", body=b"x", headers={"Content-Type": "text/plain",
                                                                     "Authorization": f"Bearer {key}"})
    assert r.status == 415
