"""OTLP trace exports (``ExportTraceServiceRequest``) decoded from protobuf or OTLP/JSON into spans.

Only what usage needs is kept: each span's trace and span ids (lowercase hex), name, start and end
time (unix nanoseconds) and attributes, with its resource's attributes. Attribute values become
``str``, ``bool``, ``int``, ``float``, ``bytes``, lists and dicts. Anything malformed raises
``OtlpError`` (the endpoint answers 400 with its message); unknown fields are skipped, as the
protobuf and OTLP/JSON rules require.

Messages read (field numbers from opentelemetry-proto):
ExportTraceServiceRequest{1 resource_spans} ResourceSpans{1 resource, 2 scope_spans}
Resource{1 attributes} ScopeSpans{2 spans} Span{1 trace_id, 2 span_id, 5 name,
7 start_time_unix_nano, 8 end_time_unix_nano, 9 attributes} KeyValue{1 key, 2 value}
AnyValue{1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes} ArrayValue{1 values}
KeyValueList{1 values}.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import protowire as pw
from chalicelib.domain.protowire import ProtoError

MAX_SPANS = 10_000
MAX_ATTRIBUTES = 256  # per span or resource; more are dropped, as SDK limits do (default 128)
MAX_DEPTH = 4  # nested array/kvlist values


class OtlpError(ValueError):
    """The export is not a well-formed OTLP trace request."""


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)


# --- protobuf ---------------------------------------------------------------------------------


def _any_value(buf: bytes, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtoError("attribute values nested too deep")
    value: Any = None
    for number, wire, raw in pw.fields(buf):
        if number == 1:
            value = pw.text(raw, "string_value")
        elif number == 2:
            value = bool(pw.number(raw, "bool_value"))
        elif number == 3:
            value = pw.signed64(pw.number(raw, "int_value"))
        elif number == 4:
            if wire != pw.I64:
                raise ProtoError("double_value: expected fixed64")
            value = pw.as_double(pw.number(raw, "double_value"))
        elif number == 5:
            value = [_any_value(pw.blob(v, "array"), depth + 1)
                     for n, _, v in pw.fields(pw.blob(raw, "array_value")) if n == 1]
        elif number == 6:
            value = _attributes(pw.blob(raw, "kvlist_value"), 1, depth + 1)
        elif number == 7:
            value = pw.blob(raw, "bytes_value")
    return value


def _key_value(buf: bytes, depth: int) -> tuple[str, Any]:
    key, value = "", None
    for number, _, raw in pw.fields(buf):
        if number == 1:
            key = pw.text(raw, "key")
        elif number == 2:
            value = _any_value(pw.blob(raw, "value"), depth)
    return key, value


def _attributes(buf: bytes, list_field: int, depth: int = 0) -> dict[str, Any]:
    """The KeyValue entries at ``list_field`` of a message (Resource, Span, KeyValueList)."""
    out: dict[str, Any] = {}
    for number, _, raw in pw.fields(buf):
        if number == list_field and len(out) < MAX_ATTRIBUTES:
            key, value = _key_value(pw.blob(raw, "attribute"), depth)
            if key:
                out[key] = value
    return out


def _span(buf: bytes, resource: dict[str, Any]) -> Span:
    trace_id = span_id = b""
    name = ""
    start = end = 0
    attributes: dict[str, Any] = {}
    for number, wire, raw in pw.fields(buf):
        if number == 1:
            trace_id = pw.blob(raw, "trace_id")
        elif number == 2:
            span_id = pw.blob(raw, "span_id")
        elif number == 5:
            name = pw.text(raw, "name")
        elif number == 7 and wire == pw.I64:
            start = pw.number(raw, "start_time_unix_nano")
        elif number == 8 and wire == pw.I64:
            end = pw.number(raw, "end_time_unix_nano")
        elif number == 9 and len(attributes) < MAX_ATTRIBUTES:
            key, value = _key_value(pw.blob(raw, "attribute"), 0)
            if key:
                attributes[key] = value
    return Span(trace_id.hex(), span_id.hex(), name, start, end, attributes, resource)


def decode_protobuf(body: bytes) -> list[Span]:
    spans: list[Span] = []
    try:
        for number, _, resource_spans in pw.fields(body):
            if number != 1:
                continue
            resource: dict[str, Any] = {}
            scope_spans: list[bytes] = []
            for n, _, raw in pw.fields(pw.blob(resource_spans, "resource_spans")):
                if n == 1:
                    resource = _attributes(pw.blob(raw, "resource"), 1)
                elif n == 2:
                    scope_spans.append(pw.blob(raw, "scope_spans"))
            for scope in scope_spans:
                for n, _, raw in pw.fields(scope):
                    if n == 2:
                        spans.append(_span(pw.blob(raw, "span"), resource))
                        if len(spans) > MAX_SPANS:
                            raise OtlpError(f"at most {MAX_SPANS} spans per export")
    except ProtoError as e:
        raise OtlpError(f"not a valid ExportTraceServiceRequest: {e}") from None
    return spans


# --- OTLP/JSON --------------------------------------------------------------------------------


def _json_id(value: Any, size: int, what: str) -> str:
    """Ids are hex in OTLP/JSON; base64 (protobuf's JSON mapping) is accepted too."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise OtlpError(f"{what}: expected a hex string")
    try:
        if len(value) == size * 2:
            return bytes.fromhex(value).hex()
        decoded = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise OtlpError(f"{what}: expected {size * 2} hex digits") from None
    if len(decoded) != size:
        raise OtlpError(f"{what}: expected {size * 2} hex digits")
    return decoded.hex()


def _json_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise OtlpError(f"{what}: expected an integer")
    try:
        return int(value)
    except ValueError:
        raise OtlpError(f"{what}: expected an integer") from None


def _json_value(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise OtlpError("attribute values nested too deep")
    if not isinstance(value, dict):
        raise OtlpError("attribute value: expected an AnyValue object")
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return _json_int(value["intValue"], "intValue")
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise OtlpError("doubleValue: expected a number")
        try:
            return float(raw)
        except ValueError:
            raise OtlpError("doubleValue: expected a number") from None
    if "arrayValue" in value:
        return [_json_value(v, depth + 1) for v in _json_list((value["arrayValue"] or {}).get("values"))]
    if "kvlistValue" in value:
        return _json_attributes((value["kvlistValue"] or {}).get("values"), depth + 1)
    if "bytesValue" in value:
        try:
            return base64.b64decode(value["bytesValue"])
        except (ValueError, binascii.Error, TypeError):
            raise OtlpError("bytesValue: expected base64") from None
    return None


def _json_list(value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError("expected an array")
    return value


def _json_attributes(items: Any, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in _json_list(items)[:MAX_ATTRIBUTES]:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise OtlpError("attribute: expected {\"key\": ..., \"value\": {...}}")
        out[item["key"]] = _json_value(item.get("value") or {}, depth) if item.get("value") is not None else None
    return out


def decode_json(body: bytes) -> list[Span]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise OtlpError("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise OtlpError("expected an ExportTraceServiceRequest object")
    spans: list[Span] = []
    for rs in _json_list(payload.get("resourceSpans")):
        if not isinstance(rs, dict):
            raise OtlpError("resourceSpans: expected objects")
        resource = _json_attributes((rs.get("resource") or {}).get("attributes"))
        for ss in _json_list(rs.get("scopeSpans")):
            if not isinstance(ss, dict):
                raise OtlpError("scopeSpans: expected objects")
            for s in _json_list(ss.get("spans")):
                if not isinstance(s, dict):
                    raise OtlpError("spans: expected objects")
                spans.append(Span(
                    _json_id(s.get("traceId"), 16, "traceId"), _json_id(s.get("spanId"), 8, "spanId"),
                    str(s.get("name") or ""), _json_int(s.get("startTimeUnixNano") or 0, "startTimeUnixNano"),
                    _json_int(s.get("endTimeUnixNano") or 0, "endTimeUnixNano"),
                    _json_attributes(s.get("attributes")), resource,
                ))
                if len(spans) > MAX_SPANS:
                    raise OtlpError(f"at most {MAX_SPANS} spans per export")
    return spans


# --- responses --------------------------------------------------------------------------------


def partial_success_protobuf(rejected: int, message: str) -> bytes:
    """ExportTraceServiceResponse{1 partial_success: {1 rejected_spans, 2 error_message}}."""
    inner = pw.encode_varint_field(1, rejected) + pw.encode_bytes_field(2, message.encode())
    return pw.encode_bytes_field(1, inner) if inner else b""


def status_protobuf(code: int, message: str) -> bytes:
    """google.rpc.Status{1 code, 2 message}."""
    return pw.encode_varint_field(1, code) + pw.encode_bytes_field(2, message.encode())
