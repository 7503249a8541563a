"""OTLP/HTTP trace exports become pushed usage: authenticate the ingest key, inflate, decode,
map the GenAI spans to events (domain.otlp_genai) and hand them to the ingestion service in
batches it accepts, so dedup, pricing, quotas and rollups are the push endpoint's own."""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import ingest, otlp, otlp_genai
from chalicelib.errors import PayloadTooLarge, ValidationFailed
from chalicelib.services import ingestion

log = logging.getLogger("costpilot.otlp")

MAX_BODY_BYTES = 4 * 1024 * 1024  # as sent (compressed or not)
MAX_INFLATED_BYTES = 16 * 1024 * 1024  # after gunzip: a zip bomb stops here
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_REASONS = 5


@dataclass
class ExportResult:
    spans: int = 0
    ignored: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """What OTLP's partial_success.rejected_spans reports: spans that did not become usage."""
        return self.ignored + self.rejected

    def message(self) -> str:
        parts = []
        if self.ignored:
            parts.append(f"{self.ignored} spans without GenAI usage attributes were ignored")
        if self.rejected:
            parts.append(f"{self.rejected} GenAI spans were rejected: " + "; ".join(self.reasons))
        return ". ".join(parts)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.refused:
            body["partialSuccess"] = {"rejectedSpans": str(self.refused), "errorMessage": self.message()}
        body["costpilot"] = {"spans": self.spans, "ignored": self.ignored, "accepted": self.accepted,
                             "duplicate": self.duplicate, "rejected": self.rejected}
        return body


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if kind == JSON:
        return JSON
    raise ValidationFailed(f"Content-Type must be {PROTOBUF} or {JSON}", field="content-type")


def inflate(raw: bytes, encoding: str | None) -> bytes:
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"export over {MAX_BODY_BYTES} bytes; send smaller batches", field="body")
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in ("gzip", "deflate"):
        raise ValidationFailed("Content-Encoding must be gzip, deflate or none", field="content-encoding")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, MAX_INFLATED_BYTES)
        if inflater.unconsumed_tail:
            raise PayloadTooLarge(f"export inflates past {MAX_INFLATED_BYTES} bytes", field="body")
        body += inflater.flush()
    except zlib.error:
        raise ValidationFailed(f"body is not valid {encoding} data", field="body") from None
    if not inflater.eof:
        raise ValidationFailed(f"body is truncated {encoding} data", field="body")
    return body


def _batches(events: list[dict[str, Any]]) -> list[bytes]:
    """Push bodies within the ingestion limits (1,000 events, 1 MiB)."""
    bodies, current, size = [], [], 0
    for event in events:
        encoded = json.dumps(event, separators=(",", ":"))
        if current and (len(current) == ingest.MAX_EVENTS or size + len(encoded) + 16 > ingest.MAX_BODY_BYTES):
            bodies.append(current)
            current, size = [], 0
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        bodies.append(current)
    return [('{"events":[' + ",".join(b) + "]}").encode() for b in bodies]


def export_traces(headers: dict[str, str], raw_body: bytes, now: datetime | None = None) -> ExportResult:
    """One export request; ``headers`` are lowercased. Raises AppErrors for the whole request."""
    now = now or datetime.now(UTC)
    kind = media_type(headers.get("content-type"))
    auth = {"authorization": headers.get("authorization", "")}
    ingestion.authenticate(auth, b"", now)  # before any decoding work
    body = inflate(raw_body or b"", headers.get("content-encoding"))
    try:
        spans = otlp.decode_protobuf(body) if kind == PROTOBUF else otlp.decode_json(body)
    except otlp.OtlpError as e:
        raise ValidationFailed(str(e), field="body") from None
    events, ignored = otlp_genai.events_of(spans)
    result = ExportResult(spans=len(spans), ignored=ignored)
    for push_body in _batches(events):
        pushed = ingestion.ingest_batch(auth, push_body, now)
        result.accepted += pushed["summary"]["accepted"]
        result.duplicate += pushed["summary"]["duplicate"]
        result.rejected += pushed["summary"]["rejected"]
        for outcome in pushed["events"]:
            if outcome.get("status") == "rejected" and len(result.reasons) < MAX_REASONS:
                result.reasons.append(f"{outcome.get('id') or 'span'}: {outcome.get('reason')}")
    log.info("otlp export: %s", result.to_json()["costpilot"])
    return result
