"""``instrument_openai(client)``: chat completions and responses of an ``openai.OpenAI`` or
``openai.AsyncOpenAI`` client record their usage. Streams record it from the chunk that carries
it: for chat completions pass ``stream_options={"include_usage": True}`` (OpenAI sends no usage in a
stream otherwise); the Responses API always sends it in ``response.completed``.

OpenAI's ``prompt_tokens`` include cached input; CostPilot's ``input_tokens`` do not, so the cached
part is moved to ``cached_input_tokens``.
"""

from __future__ import annotations

from typing import Any

from costpilot.integrations._wrap import Recorder, Usage, number, wrap


def _usage(usage: Any, model: Any) -> Usage | None:
    if usage is None:
        return None
    prompt = number(usage, "prompt_tokens", "input_tokens") or 0
    details = getattr(usage, "prompt_tokens_details", None) or getattr(usage, "input_tokens_details", None)
    cached = (number(details, "cached_tokens") or 0) if details is not None else 0
    return {"model": model if isinstance(model, str) else None, "input_tokens": max(prompt - cached, 0),
            "cached_input_tokens": cached,
            "output_tokens": number(usage, "completion_tokens", "output_tokens") or 0}


def _extract(response: Any) -> Usage | None:
    return _usage(getattr(response, "usage", None), getattr(response, "model", None))


def _observe_chat(running: Usage, chunk: Any) -> None:
    found = _extract(chunk)
    if found:
        running.update(found)
    elif not running.get("model") and isinstance(getattr(chunk, "model", None), str):
        running["model"] = chunk.model


def _observe_responses(running: Usage, event: Any) -> None:
    response = getattr(event, "response", None)
    if response is not None:
        found = _extract(response)
        if found:
            running.update(found)


def instrument_openai(client: Any, *, costpilot_client: Any = None) -> Any:
    """Instruments one OpenAI client (sync or async) in place and returns it."""
    chat = getattr(getattr(client, "chat", None), "completions", None)
    if chat is not None:
        wrap(chat, "create", _extract, _observe_chat, Recorder("openai", "openai.chat", costpilot_client))
    responses = getattr(client, "responses", None)
    if responses is not None:
        wrap(responses, "create", _extract, _observe_responses,
             Recorder("openai", "openai.responses", costpilot_client))
    return client
