"""Pushed usage events: decode and validate a batch into per-event outcomes.

``POST /api/webhooks/provider-usage`` takes ``{"events": [...]}`` (at most 1,000 events, 1 MiB).
Problems with the whole body (size, JSON, envelope) raise ``BatchError``; problems with one event
reject that event only, with a reason naming the field. The caller writes each accepted record
with a create-only put keyed by its idempotency id and turns a lost race into ``duplicate``
(``EventOutcome.as_duplicate``): a rejected event writes nothing, a duplicate changes nothing.

One event becomes ONE ``UsageRecord(kind=EVENT)``, keyed by its idempotency id (the shared
record key of an event is its id alone, so several records per event could not coexist). Token
events get ``unit_type="tokens"`` and ``units`` = the sum of the four token counts; the breakdown
is kept in reserved metadata keys ``cp.input_tokens``... (client keys may not start with ``cp.``)
so the cost could be re-estimated later. Events with ``units`` + ``unit_type`` keep them as sent.

Cost: a given ``cost`` is parsed exactly (``money.parse_decimal``; never through float
arithmetic) and stored as the record's ``billed_cost`` (the cost the client reports). A missing
cost is estimated with the injected ``estimate_cost`` (the price catalogue, USD, at the event's
time) into ``estimated_cost``, so an event carries one or the other and its cost is their sum.
If no price is known (unknown model, no model, non-token units) the event is still accepted with
no cost and a warning: its units and count are kept, and the client learns why its spend is 0.
Estimates are USD, so a currency other than USD is only accepted together with a cost.

Token counts follow ``pricing``: ``input_tokens`` is uncached input only; cache reads go in
``cached_input_tokens`` and cache writes in ``cache_write_tokens``.

This module is the batch (body, envelope, per-event outcomes); the event schema and its error
messages are ``ingest_schema``, the content rules ``ingest_privacy``, the record ``ingest_record``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.ingest_record import EstimateCost, to_record
from chalicelib.domain.ingest_schema import OUTSIDE_CALENDAR, validate_event
from chalicelib.domain.usage import UsageRecord

MAX_EVENTS = 1000
MAX_BODY_BYTES = 1_048_576  # 1 MiB
MAX_FUTURE = timedelta(days=1)
DEFAULT_RETENTION_DAYS = 365


class BatchError(ValueError):
    """The whole request is refused. ``code`` is stable for clients; ``field`` names the culprit."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code  # body_too_large | malformed_json | invalid_batch | too_many_events
        self.field = field
        self.message = message


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    index: int  # position in the batch
    status: Status
    id: str | None = None
    record: UsageRecord | None = None  # accepted only
    field: str | None = None  # rejected: the first field at fault
    reason: str | None = None  # rejected: "field: message[; field: message]"
    warnings: tuple[str, ...] = ()

    def as_duplicate(self) -> EventOutcome:
        """The same event, reported as a duplicate (the store already holds its id)."""
        return replace(self, status=Status.DUPLICATE, record=None, warnings=())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "index": self.index,
            "id": self.id,
            "status": self.status.value,
        }
        if self.status is Status.REJECTED:
            body["field"] = self.field
            body["reason"] = self.reason
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body


# --- body and envelope -------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_body(raw: bytes | str, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON document of a request body: size, UTF-8 and strict JSON checked.

    Numbers with a fraction or exponent decode to ``Decimal`` (exact money from the start);
    ``NaN``/``Infinity`` and repeated keys are refused.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data is None or len(data) == 0:
        raise BatchError("malformed_json", "body", 'empty body; expected {"events": [...]}')
    if len(data) > max_bytes:
        raise BatchError(
            "body_too_large",
            "body",
            f"body is larger than {max_bytes} bytes; send smaller batches",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchError("malformed_json", "body", "body is not UTF-8") from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constants,
            object_pairs_hook=_no_duplicate_keys,
        )
    except (ValueError, RecursionError) as e:
        raise BatchError("malformed_json", "body", f"malformed JSON: {e}") from None


def _events_of(payload: Any, max_events: int) -> list[Any]:
    if not isinstance(payload, dict):
        raise BatchError("invalid_batch", "body", 'expected a JSON object {"events": [...]}')
    extra = sorted(set(payload) - {"events"})
    if extra:
        raise BatchError("invalid_batch", extra[0], 'unknown field; expected {"events": [...]}')
    if "events" not in payload:
        raise BatchError("invalid_batch", "events", "required")
    events = payload["events"]
    if not isinstance(events, list):
        raise BatchError("invalid_batch", "events", "must be an array of events")
    if len(events) > max_events:
        raise BatchError(
            "too_many_events",
            "events",
            f"at most {max_events} events per batch, got {len(events)}",
        )
    return events


def _reject(index: int, event_id: str | None, errors: list[tuple[str, str]]) -> EventOutcome:
    reason = "; ".join(f"{f}: {m}" for f, m in errors)
    return EventOutcome(index, Status.REJECTED, event_id, field=errors[0][0], reason=reason)


def parse_events(
    payload: Any,
    *,
    workspace_id: str,
    source: str,
    now: datetime,
    estimate_cost: EstimateCost | None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    max_events: int = MAX_EVENTS,
) -> list[EventOutcome]:
    """Per-event outcomes, in input order, for a decoded batch; ``BatchError`` for the envelope.

    ``source`` is ``"push:<ingest key prefix>"``. Within the batch the first *accepted* event with
    an id wins and later ones are duplicates (a rejected event claims nothing, so a corrected copy
    later in the same batch is accepted). Duplicates across batches are the store's call.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    events = _events_of(payload, max_events)
    oldest = now - timedelta(days=retention_days)
    latest = now + MAX_FUTURE
    seen: set[str] = set()
    outcomes: list[EventOutcome] = []
    for index, raw in enumerate(events):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        event_id = raw_id if isinstance(raw_id, str) else None
        parsed, errors = validate_event(raw)
        window = f"accepted from {retention_days} days ago to 1 day ahead of the server clock (UTC)"
        if parsed is not None:
            if parsed.timestamp > latest:
                errors = [("timestamp", f"more than 1 day in the future ({window}); check the clock and the timezone")]
            elif parsed.timestamp < oldest:
                errors = [("timestamp", f"older than the retention window ({window})")]
        errors = [(f, f"{m} ({window})" if m == OUTSIDE_CALENDAR else m) for f, m in errors]
        if errors or parsed is None:
            outcomes.append(_reject(index, event_id, errors))
            continue
        if parsed.id in seen:
            outcomes.append(EventOutcome(index, Status.DUPLICATE, parsed.id))
            continue
        record, warnings = to_record(parsed, workspace_id, source, estimate_cost)
        seen.add(parsed.id)
        outcomes.append(EventOutcome(index, Status.ACCEPTED, parsed.id, record=record, warnings=warnings))
    return outcomes


def parse_batch(raw_body: bytes | str, **kwargs: Any) -> list[EventOutcome]:
    """``decode_body`` then ``parse_events`` (same keyword arguments)."""
    return parse_events(decode_body(raw_body), **kwargs)


def summary(outcomes: list[EventOutcome]) -> dict[str, int]:
    counts = {status.value: 0 for status in Status}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    return counts
