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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.domain.money import MoneyError, normalize_currency, parse_decimal
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.domain.usage_query import UNATTRIBUTED

MAX_EVENTS = 1000
MAX_BODY_BYTES = 1_048_576  # 1 MiB
MAX_TOKENS = 10**10
MAX_UNITS = Decimal(10**10)
MAX_COST = Decimal(1_000_000)  # per event, in the event's currency
MAX_DECIMAL_PLACES = 12  # keeps sums of a million events well inside DynamoDB's 38 digits
MAX_FUTURE = timedelta(days=1)
OUTSIDE_CALENDAR = "outside the calendar"  # a time that UTC cannot hold (years 1 and 9999 with an offset)
DEFAULT_RETENTION_DAYS = 365
MAX_METADATA_ENTRIES = 20
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 256
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
)
TOKENS_UNIT = "tokens"
RESERVED_METADATA_PREFIX = "cp."
ESTIMATE_CURRENCY = "USD"
METADATA_ONLY = "metadata only: prompts and responses are not accepted"
EVENT_DURATION = timedelta(seconds=1)  # an event is an instant; its bucket is [t, t + 1 s)

# Field names that carry content. Any word of a key in the first set, or the whole key / its
# last word in the second, marks the key as content ("user_prompt", "llm_response", "input").
# "response_time_ms" and "input_tokens" stay allowed.
_CONTENT_WORDS = frozenset(
    [
        "prompt",
        "prompts",
        "completion",
        "completions",
        "message",
        "messages",
        "content",
        "contents",
        "transcript",
        "transcripts",
        "instructions",
    ]
)
_CONTENT_KEYS = frozenset(
    [
        "response",
        "responses",
        "input",
        "inputs",
        "output",
        "outputs",
        "text",
        "texts",
        "body",
        "query",
        "question",
        "answer",
        "reply",
        "choices",
        "system",
        "user",
        "assistant",
    ]
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EstimateCost(Protocol):
    """``pricing.estimate_cost``: USD estimate of token usage, ``None`` when no price is known."""

    def __call__(
        self,
        provider: str,
        model: str | None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        at: datetime | None = None,
    ) -> Decimal | None: ...


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


# --- one event ---------------------------------------------------------------------------------


def is_content_key(key: str) -> bool:
    """True for metadata/field names that would carry prompts or responses."""
    words = [w.lower() for w in _WORD.findall(key)]
    if not words:
        return False
    if any(w in _CONTENT_WORDS for w in words):
        return True
    return "".join(words) in _CONTENT_KEYS or words[-1] in _CONTENT_KEYS


def _exact(value: Any) -> Decimal:
    try:
        amount = parse_decimal(value)
    except MoneyError:
        raise PydanticCustomError("decimal", "must be a decimal number or a decimal string") from None
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise PydanticCustomError("decimal", f"at most {MAX_DECIMAL_PLACES} decimal places")
    return amount


_Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
_Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"),
]
_Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]
_Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]


class UsageEventIn(BaseModel):
    """One pushed usage event (the wire schema). Strict: no type coercion, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: _Id
    timestamp: datetime
    provider: _Slug
    model: _Text | None = None
    input_tokens: _Tokens | None = None
    output_tokens: _Tokens | None = None
    cached_input_tokens: _Tokens | None = None
    cache_write_tokens: _Tokens | None = None
    units: Decimal | None = None
    unit_type: _Slug | None = None
    cost: Decimal | None = None
    currency: str | None = None
    project: _Text | None = None
    feature: _Text | None = None
    customer: _Text | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise PydanticCustomError(
                "timestamp",
                "must be an RFC 3339 string with a timezone, e.g. 2025-01-31T12:00:00Z",
            )
        text = value.upper().replace(" ", "T")
        if "." in text:  # Python keeps microseconds: cut nanoseconds
            head, _, tail = text.partition(".")
            digits = re.match(r"\d+", tail).group(0)  # type: ignore[union-attr]
            text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            raise PydanticCustomError("timestamp", "not a valid date and time") from None
        except OverflowError:  # 0001-01-01T00:00:00+01:00 or 9999-12-31T23:59:59-01:00 leave the calendar
            raise PydanticCustomError("timestamp", OUTSIDE_CALENDAR) from None

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        amount = _exact(value)
        if amount < 0:
            raise PydanticCustomError("cost", "must not be negative")
        if amount > MAX_COST:
            raise PydanticCustomError("cost", f"must be at most {MAX_COST} per event")
        return amount

    @field_validator("units", mode="before")
    @classmethod
    def _units(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        amount = _exact(value)
        if amount < 0:
            raise PydanticCustomError("units", "must not be negative")
        if amount > MAX_UNITS:
            raise PydanticCustomError("units", f"must be at most {MAX_UNITS}")
        return amount

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_currency(value)
        except MoneyError:
            raise PydanticCustomError(
                "currency", "unknown currency; expected an ISO 4217 code such as USD"
            ) from None

    @field_validator("model", "project", "feature", "customer")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _CONTROL.search(value):
            raise PydanticCustomError("text", "must not contain control characters")
        if value.strip() != value or not value:
            raise PydanticCustomError("text", "must not start or end with spaces")
        if value == UNATTRIBUTED:
            raise PydanticCustomError("text", f"{UNATTRIBUTED} is reserved")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_METADATA_ENTRIES:
            raise PydanticCustomError("metadata", f"at most {MAX_METADATA_ENTRIES} entries")
        return value

    @model_validator(mode="after")
    def _quantities(self) -> UsageEventIn:
        has_tokens = any(getattr(self, f) is not None for f in TOKEN_FIELDS)
        if has_tokens and (self.units is not None or self.unit_type is not None):
            raise PydanticCustomError("quantity", "give token counts or units + unit_type, not both")
        if not has_tokens:
            if self.units is None and self.unit_type is None:
                raise PydanticCustomError(
                    "quantity",
                    "give token counts (input_tokens...) or units + unit_type",
                )
            if self.units is None:
                raise PydanticCustomError("units", "required with unit_type")
            if self.unit_type is None:
                raise PydanticCustomError("unit_type", "required with units")
        if self.currency is not None and self.cost is None and self.currency != ESTIMATE_CURRENCY:
            raise PydanticCustomError(
                "currency",
                "given without cost; estimates are in USD, so send cost with it",
            )
        return self


_FRIENDLY = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "string_too_short": "must not be empty",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}
# the model-level checks raise errors located at the model; these codes name their field
_MODEL_ERROR_FIELDS = {
    "quantity": "units",
    "units": "units",
    "unit_type": "unit_type",
    "currency": "currency",
}


def _error_field(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if not loc:
        return _MODEL_ERROR_FIELDS.get(error.get("type", ""), "event")
    return ".".join(loc)


def _error_message(error: Mapping[str, Any], field: str) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden" and is_content_key(field):
        return METADATA_ONLY
    if kind == "string_pattern_mismatch":
        if field == "id":
            return "printable ASCII without spaces, 1-128 characters"
        return "letters, digits and . _ : / - only, starting with a letter or digit"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    return _FRIENDLY.get(kind, error.get("msg", "invalid"))


def _metadata_errors(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    metadata = event.get("metadata")
    if not isinstance(metadata, dict):
        return []
    errors = []
    for key, value in metadata.items():
        name = f"metadata.{key}"
        if is_content_key(key) or (isinstance(value, str) and len(value) > MAX_METADATA_VALUE):
            errors.append((name, METADATA_ONLY))
        elif key.startswith(RESERVED_METADATA_PREFIX):
            errors.append((name, f"keys starting with {RESERVED_METADATA_PREFIX!r} are reserved"))
        elif len(key) > MAX_METADATA_KEY or not key:
            errors.append((name, f"keys must be 1-{MAX_METADATA_KEY} characters"))
        elif _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
            errors.append((name, "must not contain control characters"))
    return errors


def validate_event(event: Any) -> tuple[UsageEventIn | None, list[tuple[str, str]]]:
    """The validated event, or the (field, message) errors, content checks first."""
    if not isinstance(event, dict):
        return None, [("event", "must be an object")]
    errors = _metadata_errors(event)
    try:
        parsed = UsageEventIn.model_validate(event)
    except ValidationError as e:
        seen = {f for f, _ in errors}
        for err in e.errors(include_url=False):
            name = _error_field(err)
            if name not in seen:
                errors.append((name, _error_message(err, name)))
                seen.add(name)
        return None, errors
    return (None, errors) if errors else (parsed, [])


def _reject(index: int, event_id: str | None, errors: list[tuple[str, str]]) -> EventOutcome:
    reason = "; ".join(f"{f}: {m}" for f, m in errors)
    return EventOutcome(index, Status.REJECTED, event_id, field=errors[0][0], reason=reason)


def _quantize(amount: Decimal) -> Decimal:
    quantum = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
    if isinstance(amount.as_tuple().exponent, int) and amount.as_tuple().exponent >= -MAX_DECIMAL_PLACES:
        return amount
    return amount.quantize(quantum, rounding=ROUND_HALF_EVEN).normalize()


def _to_record(
    event: UsageEventIn,
    workspace_id: str,
    source: str,
    estimate_cost: EstimateCost | None,
) -> tuple[UsageRecord, tuple[str, ...]]:
    warnings: list[str] = []
    metadata = dict(event.metadata)
    provider = event.provider.lower()
    estimated: Decimal | None = None
    if event.unit_type is not None:
        unit_type, units = event.unit_type.lower(), event.units or Decimal(0)
    else:
        counts = {f: getattr(event, f) or 0 for f in TOKEN_FIELDS}
        unit_type, units = TOKENS_UNIT, Decimal(sum(counts.values()))
        metadata.update({RESERVED_METADATA_PREFIX + f: str(n) for f, n in counts.items() if n})
        if event.cost is None and event.model is not None and estimate_cost is not None:
            estimated = estimate_cost(provider, event.model, at=event.timestamp, **counts)
            if estimated is not None:
                if not isinstance(estimated, Decimal) or not estimated.is_finite() or estimated < 0:
                    raise TypeError(f"estimate_cost returned {estimated!r}; expected a non-negative Decimal")
                estimated = _quantize(estimated)
    if event.cost is None and estimated is None:
        warnings.append(
            "cost: not given and no catalogue price for this provider/model/unit; "
            "counted with no cost (send cost to include it in spend)"
        )
    record = UsageRecord(
        workspace_id=workspace_id,
        kind=RecordKind.EVENT,
        source=source,
        provider=provider,
        bucket_start=event.timestamp,
        bucket_end=event.timestamp + EVENT_DURATION,
        currency=event.currency or ESTIMATE_CURRENCY,
        model=event.model,
        unit_type=unit_type,
        units=units,
        billed_cost=event.cost,
        estimated_cost=estimated,
        project=event.project,
        feature=event.feature,
        customer=event.customer,
        idempotency_id=event.id,
        metadata=metadata,
    )
    return record, tuple(warnings)


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
        record, warnings = _to_record(parsed, workspace_id, source, estimate_cost)
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
