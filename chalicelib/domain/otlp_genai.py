"""GenAI spans to usage events: the OpenTelemetry GenAI semantic conventions (and the older
OpenLLMetry and OpenInference spellings) mapped onto the push schema of ``domain.ingest``.

A span is a GenAI usage span when it names a provider and carries at least one token count;
every other span is ignored (the endpoint counts it in ``partial_success``). Attributes, first
found wins:

- provider: gen_ai.provider.name, gen_ai.system, llm.provider, llm.system, llm.vendor
- model: gen_ai.response.model, gen_ai.request.model, llm.response.model, llm.model_name,
  llm.request.model
- input tokens: gen_ai.usage.input_tokens, gen_ai.usage.prompt_tokens, llm.usage.prompt_tokens,
  llm.token_count.prompt
- output tokens: gen_ai.usage.output_tokens, gen_ai.usage.completion_tokens,
  llm.usage.completion_tokens, llm.token_count.completion
- cache reads: gen_ai.usage.cache_read.input_tokens, gen_ai.usage.cache_read_input_tokens,
  llm.token_count.prompt_details.cache_read
- cache writes: gen_ai.usage.cache_creation.input_tokens, gen_ai.usage.cache_creation_input_tokens,
  llm.token_count.prompt_details.cache_write
- cost (optional, USD): gen_ai.usage.cost, costpilot.cost

Input token attributes count all input, cached included (as the conventions say), so the cache
reads and writes are taken out of them for CostPilot's uncached ``input_tokens``.

Attribution (the span's attribute first, then its resource's):
``project`` = costpilot.project, else the resource's ``service.name`` (unless it is the SDK's
``unknown_service`` default); ``feature`` = costpilot.feature; ``customer`` = costpilot.customer.

The event id is ``otel-<trace id>-<span id>``, so a span exported twice counts once; its time is
the span's end (else its start). Provider names are the conventions' (``aws.bedrock``,
``gcp.vertex_ai``...) mapped to the price catalogue's where they differ.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.otlp import Span

PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "llm.vendor")
MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.model_name",
         "llm.request.model")
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens",
         "llm.token_count.prompt")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens",
          "llm.token_count.completion")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
              "llm.token_count.prompt_details.cache_read")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
               "llm.token_count.prompt_details.cache_write")
COST = ("gen_ai.usage.cost", "costpilot.cost")
PROVIDER_ALIASES = {
    "aws.bedrock": "aws", "bedrock": "aws", "azure.ai.openai": "azure", "azure.ai.inference": "azure",
    "az.ai.openai": "azure", "az.ai.inference": "azure", "gcp.gemini": "google", "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google", "gemini": "google", "vertex_ai": "google", "mistral_ai": "mistral",
    "x_ai": "x-ai", "xai": "x-ai", "ibm.watsonx.ai": "ibm",
}
UNKNOWN_SERVICE = "unknown_service"


def _first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _tokens(attrs: dict[str, Any], names: tuple[str, ...]) -> int | None:
    value = _first(attrs, names)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _text(span: Span, name: str) -> str | None:
    for attrs in (span.attributes, span.resource):
        value = attrs.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _timestamp(nanos: int) -> str:
    seconds, rest = divmod(nanos, 1_000_000_000)
    when = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return when.isoformat().replace("+00:00", "Z")


def _cost(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return str(amount) if amount.is_finite() else None


def is_genai(span: Span) -> bool:
    attrs = span.attributes
    return _first(attrs, PROVIDER) is not None and any(
        _tokens(attrs, names) is not None for names in (INPUT, OUTPUT, CACHE_READ, CACHE_WRITE))


def provider_name(raw: Any) -> str:
    name = str(raw).strip().lower()
    return PROVIDER_ALIASES.get(name, name)


def to_event(span: Span) -> dict[str, Any]:
    """The push-schema event of a GenAI span (``domain.ingest`` validates it like any other)."""
    attrs = span.attributes
    cache_read = _tokens(attrs, CACHE_READ) or 0
    cache_write = _tokens(attrs, CACHE_WRITE) or 0
    raw_input = _tokens(attrs, INPUT)
    event: dict[str, Any] = {
        "timestamp": _timestamp(span.end_ns or span.start_ns),
        "provider": provider_name(_first(attrs, PROVIDER)),
        "input_tokens": max((raw_input or 0) - cache_read - cache_write, 0),
        "output_tokens": _tokens(attrs, OUTPUT) or 0,
    }
    if span.trace_id and span.span_id:  # without them the event is rejected (id: required)
        event["id"] = f"otel-{span.trace_id}-{span.span_id}"
    if cache_read:
        event["cached_input_tokens"] = cache_read
    if cache_write:
        event["cache_write_tokens"] = cache_write
    model = _first(attrs, MODEL)
    if isinstance(model, str):
        event["model"] = model
    cost = _cost(_first(attrs, COST))
    if cost is not None:
        event["cost"] = cost
    service = span.resource.get("service.name")
    project = _text(span, "costpilot.project")
    if project is None and isinstance(service, str) and service and not service.startswith(UNKNOWN_SERVICE):
        project = service
    for name, value in (("project", project), ("feature", _text(span, "costpilot.feature")),
                        ("customer", _text(span, "costpilot.customer"))):
        if value is not None:
            event[name] = value
    metadata = {"source": "otlp"}
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation:
        metadata["operation"] = operation[:64]
    if span.end_ns and span.start_ns and span.end_ns >= span.start_ns:
        metadata["latency_ms"] = str((span.end_ns - span.start_ns) // 1_000_000)
    event["metadata"] = metadata
    return event


def events_of(spans: list[Span]) -> tuple[list[dict[str, Any]], int]:
    """The usage events of the GenAI spans, and how many spans were not GenAI usage."""
    events = [to_event(s) for s in spans if is_genai(s)]
    return events, len(spans) - len(events)
