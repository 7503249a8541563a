"""Wraps a client method so each call records its usage, for plain, async and streamed results.

Only numbers and the model name are read from responses (``Usage`` extracts them); nothing of a
request's or response's text is looked at or kept.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:  # typing_extensions is not a runtime dependency
    from typing_extensions import Self

log = logging.getLogger("costpilot")

Usage = dict[str, Any]  # model, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens
Extract = Callable[[Any], Optional[Usage]]  # a whole response -> its usage
Observe = Callable[[Usage, Any], None]  # merges one stream item's usage into the running usage

MARK = "__costpilot_wrapped__"


class Recorder:
    """Sends one call's usage to a costpilot client (the process-wide one unless given)."""

    def __init__(self, provider: str, integration: str, client: Any = None) -> None:
        self.provider = provider
        self.integration = integration
        self.client = client

    def __call__(self, usage: Usage | None, requested_model: Any, started: float) -> None:
        try:
            if not usage:
                return
            from costpilot.client import default_client

            client = self.client or default_client()
            latency_ms = int((time.perf_counter() - started) * 1000)
            model = usage.get("model") or (requested_model if isinstance(requested_model, str) else None)
            client.record(
                self.provider, model,
                input_tokens=usage.get("input_tokens") or 0,
                output_tokens=usage.get("output_tokens") or 0,
                cached_input_tokens=usage.get("cached_input_tokens") or 0,
                cache_write_tokens=usage.get("cache_write_tokens") or 0,
                metadata={"latency_ms": str(latency_ms), "integration": self.integration},
            )
        except Exception:
            log.debug("costpilot: could not record usage", exc_info=True)


class _Stream:
    """A sync stream that passes every item through and records the usage after the last one."""

    def __init__(self, inner: Any, observe: Observe, done: Callable[[Usage], None]) -> None:
        self._inner = inner
        self._observe = observe
        self._done = done
        self._usage: Usage = {}
        self._finished = False
        self._iterator: Any = None

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._done(self._usage)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._inner if hasattr(self._inner, "__next__") else iter(self._inner)
        try:
            item = next(self._iterator)
        except StopIteration:
            self._finish()
            raise
        _safe(self._observe, self._usage, item)
        return item

    def __enter__(self) -> Self:
        if hasattr(self._inner, "__enter__"):
            self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        self._finish()
        if hasattr(self._inner, "__exit__"):
            return self._inner.__exit__(*exc)
        return None

    def close(self) -> None:
        self._finish()
        if hasattr(self._inner, "close"):
            self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncStream:
    """The async twin of ``_Stream``."""

    def __init__(self, inner: Any, observe: Observe, done: Callable[[Usage], None]) -> None:
        self._inner = inner
        self._observe = observe
        self._done = done
        self._usage: Usage = {}
        self._finished = False
        self._iterator: Any = None

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._done(self._usage)

    def __aiter__(self) -> _AsyncStream:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = self._inner if hasattr(self._inner, "__anext__") else self._inner.__aiter__()
        try:
            item = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._finish()
            raise
        _safe(self._observe, self._usage, item)
        return item

    async def __aenter__(self) -> Self:
        if hasattr(self._inner, "__aenter__"):
            await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        self._finish()
        if hasattr(self._inner, "__aexit__"):
            return await self._inner.__aexit__(*exc)
        return None

    async def close(self) -> None:
        self._finish()
        if hasattr(self._inner, "close"):
            await self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _safe(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        log.debug("costpilot: could not read usage", exc_info=True)
        return None


def wrap(owner: Any, name: str, extract: Extract, observe: Observe, record: Recorder) -> bool:
    """Replaces ``owner.name`` (a bound method of one client) with a recording wrapper."""
    original = getattr(owner, name, None)
    if original is None or getattr(original, MARK, False):
        return False

    def handle(result: Any, model: Any, started: float, streamed: bool) -> Any:
        if streamed:
            done = lambda usage: record(usage, model, started)
            if hasattr(result, "__aiter__"):
                return _AsyncStream(result, observe, done)
            return _Stream(result, observe, done)
        record(_safe(extract, result), model, started)
        return result

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = original(*args, **kwargs)
        model, streamed = kwargs.get("model"), kwargs.get("stream") is True
        if inspect.isawaitable(result):  # async clients (their methods are not always coroutine functions)
            async def finish() -> Any:
                return handle(await result, model, started, streamed)

            return finish()
        return handle(result, model, started, streamed)

    setattr(wrapper, MARK, True)
    setattr(owner, name, wrapper)
    return True


def number(obj: Any, *names: str) -> int | None:
    """The first integer attribute (or key) of ``obj`` among ``names``."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
