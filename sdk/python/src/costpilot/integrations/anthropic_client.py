"""``instrument_anthropic(client)``: ``messages.create`` of an ``anthropic.Anthropic`` or
``anthropic.AsyncAnthropic`` client records its usage, streamed or not. Anthropic's
``input_tokens`` already exclude cache reads (``cache_read_input_tokens``) and cache writes
(``cache_creation_input_tokens``), as CostPilot counts them. In a stream, ``message_start`` carries
the model and input counts and each ``message_delta`` the cumulative output count.
"""

from __future__ import annotations

from typing import Any

from costpilot.integrations._wrap import Recorder, Usage, number, wrap


def _usage(usage: Any) -> Usage:
    found: Usage = {}
    for ours, theirs in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                         ("cached_input_tokens", "cache_read_input_tokens"),
                         ("cache_write_tokens", "cache_creation_input_tokens")):
        value = number(usage, theirs)
        if value is not None:
            found[ours] = value
    return found


def _extract(message: Any) -> Usage | None:
    usage = getattr(message, "usage", None)
    if usage is None:
        return None
    model = getattr(message, "model", None)
    return {"model": model if isinstance(model, str) else None, **_usage(usage)}


def _observe(running: Usage, event: Any) -> None:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        found = _extract(getattr(event, "message", None))
        if found:
            running.update(found)
    elif kind == "message_delta" and getattr(event, "usage", None) is not None:
        running.update(_usage(event.usage))


def instrument_anthropic(client: Any, *, costpilot_client: Any = None) -> Any:
    """Instruments one Anthropic client (sync or async) in place and returns it."""
    messages = getattr(client, "messages", None)
    if messages is not None:
        wrap(messages, "create", _extract, _observe, Recorder("anthropic", "anthropic.messages", costpilot_client))
    return client
