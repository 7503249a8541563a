"""``instrument_anthropic(client)``: ``messages.create`` and the ``messages.stream()`` helper of an
``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic`` client record their usage. Anthropic's
``input_tokens`` already exclude cache reads (``cache_read_input_tokens``) and cache writes
(``cache_creation_input_tokens``), as CostPilot counts them. In a stream, ``message_start`` carries
the model and input counts and each ``message_delta`` the cumulative output count; the
``stream()`` helper folds them into its message snapshot, which is read when its ``with`` /
``async with`` block ends (however the stream was consumed: events, ``text_stream``,
``get_final_message()``, or not at all).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from costpilot.integrations._wrap import MARK, Recorder, Usage, _safe, number, wrap


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


def _snapshot(stream: Any) -> Any:
    """The message accumulated so far by a ``MessageStream`` (None before ``message_start``)."""
    current = getattr(stream, "_current_snapshot_or_none", None)
    if callable(current):
        return current()
    try:
        return stream.current_message_snapshot
    except AssertionError:  # the SDK asserts there is one
        return None


class _StreamManager:
    """Wraps ``MessageStreamManager`` / ``AsyncMessageStreamManager``: enters the real one, hands
    back its real stream, and records the snapshot's usage once when the block ends."""

    def __init__(self, inner: Any, model: Any, record: Recorder) -> None:
        self._inner = inner
        self._model = model
        self._record = record
        self._stream: Any = None
        self._started = time.perf_counter()
        self._recorded = False

    def _finish(self) -> None:
        if self._recorded or self._stream is None:
            return
        self._recorded = True
        message = _safe(_snapshot, self._stream)
        self._record(_safe(_extract, message) if message is not None else None, self._model, self._started)

    def __enter__(self) -> Any:
        self._started = time.perf_counter()
        self._stream = self._inner.__enter__()
        return self._stream

    def __exit__(self, *exc: object) -> Any:
        try:
            return self._inner.__exit__(*exc)
        finally:
            self._finish()

    async def __aenter__(self) -> Any:
        self._started = time.perf_counter()
        self._stream = await self._inner.__aenter__()
        return self._stream

    async def __aexit__(self, *exc: object) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._finish()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _wrap_stream(messages: Any, record: Recorder) -> bool:
    original = getattr(messages, "stream", None)
    if original is None or getattr(original, MARK, False):
        return False

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        return _StreamManager(original(*args, **kwargs), kwargs.get("model"), record)

    setattr(stream, MARK, True)
    messages.stream = stream
    return True


def instrument_anthropic(client: Any, *, costpilot_client: Any = None) -> Any:
    """Instruments one Anthropic client (sync or async) in place and returns it."""
    messages = getattr(client, "messages", None)
    if messages is not None:
        wrap(messages, "create", _extract, _observe, Recorder("anthropic", "anthropic.messages", costpilot_client))
        _wrap_stream(messages, Recorder("anthropic", "anthropic.messages.stream", costpilot_client))
    return client
