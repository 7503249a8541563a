"""The hand-written OTLP decoder against the official opentelemetry-proto encoding, OTLP/JSON,
hostile bytes, and the GenAI attribute mapping (semconv, OpenLLMetry and OpenInference)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from chalicelib.domain import otlp, otlp_genai, protowire
from chalicelib.domain.otlp import OtlpError, Span

TRACE = bytes(range(16))
SPAN = bytes(range(100, 108))
END_NS = 1_764_504_000_123_456_789  # 2025-11-30T12:00:00.123456Z


def kv(key, **value):
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))


def request(span_attrs, resource_attrs=(), spans=1):
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource_pb2.Resource(attributes=list(resource_attrs)),
        scope_spans=[trace_pb2.ScopeSpans(spans=[trace_pb2.Span(
            trace_id=TRACE, span_id=bytes([100 + i]) + SPAN[1:], name="chat gpt-4o-mini", kind=3,
            start_time_unix_nano=END_NS - 1_500_000_000, end_time_unix_nano=END_NS,
            attributes=list(span_attrs)) for i in range(spans)])])])


GENAI = [kv("gen_ai.provider.name", string_value="openai"), kv("gen_ai.request.model", string_value="gpt-4o-mini"),
         kv("gen_ai.response.model", string_value="gpt-4o-mini-2024-07-18"),
         kv("gen_ai.usage.input_tokens", int_value=1200), kv("gen_ai.usage.output_tokens", int_value=300),
         kv("gen_ai.usage.cache_read.input_tokens", int_value=200), kv("gen_ai.operation.name", string_value="chat"),
         kv("costpilot.feature", string_value="search")]


def test_protobuf_from_the_official_encoder_decodes_every_value_kind():
    attrs = [*GENAI, kv("ratio", double_value=0.25), kv("flag", bool_value=True), kv("neg", int_value=-5),
             kv("raw", bytes_value=b"\x00\x01"),
             kv("list", array_value=common_pb2.ArrayValue(values=[common_pb2.AnyValue(string_value="a"),
                                                                  common_pb2.AnyValue(int_value=2)])),
             kv("map", kvlist_value=common_pb2.KeyValueList(values=[kv("inner", string_value="x")]))]
    body = request(attrs, [kv("service.name", string_value="checkout")]).SerializeToString()
    [span] = otlp.decode_protobuf(body)
    assert span.trace_id == TRACE.hex() and span.span_id == SPAN.hex()
    assert span.name == "chat gpt-4o-mini" and span.end_ns == END_NS
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200 and span.attributes["ratio"] == 0.25
    assert span.attributes["flag"] is True and span.attributes["neg"] == -5 and span.attributes["raw"] == b"\x00\x01"
    assert span.attributes["list"] == ["a", 2] and span.attributes["map"] == {"inner": "x"}
    assert span.resource == {"service.name": "checkout"}


def test_json_and_protobuf_decode_to_the_same_spans():
    from google.protobuf import json_format

    message = request(GENAI, [kv("service.name", string_value="checkout")], spans=3)
    as_json = json.loads(json_format.MessageToJson(message))
    # OTLP/JSON: ids are hex (protobuf's own JSON mapping says base64: both are accepted)
    hexed = json.loads(json.dumps(as_json))
    for s in hexed["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        s["traceId"] = TRACE.hex()
        s["spanId"] = s["spanId"] and __import__("base64").b64decode(s["spanId"]).hex()
    from_pb = otlp.decode_protobuf(message.SerializeToString())
    assert otlp.decode_json(json.dumps(as_json).encode()) == from_pb
    assert otlp.decode_json(json.dumps(hexed).encode()) == from_pb
    assert len(from_pb) == 3 and len({s.span_id for s in from_pb}) == 3


@pytest.mark.parametrize("body", [
    b"\x0a\x05\x01",  # length past the end
    b"\x0b",  # group wire type
    b"\x08" + b"\xff" * 11,  # overlong varint
    b"\x00\x01",  # field number 0
    b"\x0a\x02\x12\x00\xff",  # trailing garbage
])
def test_malformed_protobuf_is_an_otlp_error(body):
    with pytest.raises(OtlpError):
        otlp.decode_protobuf(body)


def test_deeply_nested_values_are_refused():
    value = common_pb2.AnyValue(string_value="x")
    for _ in range(10):
        value = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[value]))
    with pytest.raises(OtlpError, match="nested"):
        otlp.decode_protobuf(request([common_pb2.KeyValue(key="deep", value=value)]).SerializeToString())


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"resourceSpans": {}}',
                                  b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
                                  b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "x"}]}]}]}'])
def test_malformed_json_is_an_otlp_error(body):
    with pytest.raises(OtlpError):
        otlp.decode_json(body)


def span(attrs, resource=None, end=END_NS):
    return Span(TRACE.hex(), SPAN.hex(), "s", end - 1_500_000_000, end, attrs, resource or {})


def test_semconv_span_becomes_an_event_with_uncached_input_and_attribution():
    [s] = otlp.decode_protobuf(request(GENAI, [kv("service.name", string_value="checkout")]).SerializeToString())
    event = otlp_genai.to_event(s)
    assert event == {
        "id": f"otel-{TRACE.hex()}-{SPAN.hex()}", "timestamp": "2025-11-30T12:00:00.123456Z", "provider": "openai",
        "model": "gpt-4o-mini-2024-07-18", "input_tokens": 1000, "output_tokens": 300, "cached_input_tokens": 200,
        "project": "checkout", "feature": "search",
        "metadata": {"source": "otlp", "operation": "chat", "latency_ms": "1500"},
    }


@pytest.mark.parametrize("attrs, expected", [
    ({"gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-haiku-4-5", "gen_ai.usage.prompt_tokens": 150,
      "gen_ai.usage.completion_tokens": 50, "gen_ai.usage.cache_read_input_tokens": 30,
      "gen_ai.usage.cache_creation_input_tokens": 20},  # OpenLLMetry
     ("anthropic", "claude-haiku-4-5", 100, 50, 30, 20)),
    ({"llm.provider": "openai", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10,
      "llm.token_count.completion": 4, "llm.token_count.prompt_details.cache_read": 6},  # OpenInference
     ("openai", "gpt-4o", 4, 4, 6, 0)),
    ({"gen_ai.provider.name": "aws.bedrock", "gen_ai.request.model": "m", "gen_ai.usage.output_tokens": 7},
     ("aws", "m", 0, 7, 0, 0)),
])
def test_older_spellings_and_provider_names(attrs, expected):
    e = otlp_genai.to_event(span(attrs))
    got = (e["provider"], e.get("model"), e["input_tokens"], e["output_tokens"], e.get("cached_input_tokens", 0),
           e.get("cache_write_tokens", 0))
    assert got == expected


def test_attribution_prefers_the_span_then_the_resource_and_skips_unknown_service():
    resource = {"service.name": "unknown_service:python", "costpilot.customer": "acme"}
    e = otlp_genai.to_event(span({**dict(otlp_genai_attrs()), "costpilot.project": "web"}, resource))
    assert (e["project"], e["customer"]) == ("web", "acme")
    e = otlp_genai.to_event(span(dict(otlp_genai_attrs()), resource))
    assert "project" not in e


def otlp_genai_attrs():
    return {"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1}.items()


def test_non_genai_spans_are_not_usage():
    spans = [span({"http.method": "GET"}), span({"gen_ai.provider.name": "openai"}),  # no tokens
             span({"gen_ai.usage.input_tokens": 5}),  # no provider
             span({"gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": True}),  # not a count
             span(dict(otlp_genai_attrs()))]
    events, ignored = otlp_genai.events_of(spans)
    assert len(events) == 1 and ignored == 4


def test_given_cost_is_kept_exactly():
    e = otlp_genai.to_event(span({**dict(otlp_genai_attrs()), "gen_ai.usage.cost": 0.0123}))
    assert e["cost"] == "0.0123"


def test_responses_decode_with_the_official_messages():
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(otlp.partial_success_protobuf(3, "ignored"))
    assert response.partial_success.rejected_spans == 3 and response.partial_success.error_message == "ignored"
    assert otlp.partial_success_protobuf(0, "") == b""
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(otlp.status_protobuf(3, "bad"))
    assert (status.code, status.message) == (3, "bad")


def test_varint_round_trip():
    for value in (0, 1, 127, 128, 300, 2**63, 2**64 - 1):
        encoded = protowire.encode_varint_field(1, value)
        assert list(protowire.fields(encoded)) == ([(1, 0, value)] if value else [])
