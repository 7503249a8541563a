"""One HTTP path for every provider: explicit timeouts, one retry decision, one error mapping.

Modelled on stripe-python's ``_should_retry`` / ``_sleep_time_seconds``: retry 429 honouring
``Retry-After`` (capped), 5xx, timeouts and connection errors with capped, jittered exponential
backoff, up to ``max_attempts`` in all. ``sleep`` and the httpx transport are injected so tests run
in-process with no real waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from chalicelib.providers.errors import (
    AuthError,
    BadRequest,
    MalformedResponse,
    ProviderError,
    RateLimited,
    TransientError,
    redact,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "twilio-request-id")
_MAX_MESSAGE = 300

Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait. ``max_attempts`` counts the first try."""

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def should_retry(self, attempt: int, error: ProviderError, headers: Mapping[str, str] | None = None) -> bool:
        if attempt >= self.max_attempts or not error.retryable:
            return False
        # Stripe says explicitly when a retry is pointless (e.g. an idempotency conflict).
        return headers is None or headers.get("stripe-should-retry") != "false"

    def sleep_seconds(self, attempt: int, retry_after: float | None = None,
                      rand: Callable[[], float] = random.random) -> float:
        """Backoff before retry number ``attempt`` (1-based): exponential, capped, jittered.

        A provider's ``Retry-After`` wins when longer, capped at ``max_retry_after``.
        """
        seconds = min(self.initial_delay * 2 ** (attempt - 1), self.max_delay)
        seconds = max(self.initial_delay, seconds * 0.5 * (1 + rand()))
        seconds = min(seconds, self.max_delay)
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.max_retry_after))
        return seconds


def build_http_client(
    base_url: str, *, transport: httpx.BaseTransport | None = None, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.Client:
    return httpx.Client(base_url=base_url, transport=transport, timeout=timeout, follow_redirects=False)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class ProviderHTTP:
    """GETs JSON for one provider client; the client owns auth headers and its secrets."""

    def __init__(
        self,
        provider: str,
        client: httpx.Client,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        secrets: Iterable[str | None] = (),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        self._client = client
        self._headers = dict(headers or {})
        self._auth = auth
        self._secrets = tuple(s for s in secrets if s)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    def __repr__(self) -> str:
        return f"ProviderHTTP(provider={self.provider!r}, base_url={str(self._client.base_url)!r})"

    def get_json(self, url: str, params: Params = None) -> dict[str, Any]:
        """The decoded JSON object at ``url``; retries per the policy, then raises a ``ProviderError``."""
        return self.request_json("GET", url, params=params)

    def post_json(self, url: str, body: Mapping[str, Any], params: Params = None) -> dict[str, Any]:
        """POSTs a JSON body; only for reads that are safe to repeat (the retry policy applies)."""
        return self.request_json("POST", url, params=params, body=body)

    def post_form(self, url: str, form: Mapping[str, str]) -> dict[str, Any]:
        """POSTs a form (an OAuth token exchange); safe to repeat."""
        return self.request_json("POST", url, form=form)

    def request_json(
        self, method: str, url: str, *, params: Params = None, body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            headers: Mapping[str, str] | None = None
            try:
                kwargs: dict[str, Any] = {"params": params, "headers": self._headers}
                if body is not None:
                    kwargs["json"] = body
                if form is not None:
                    kwargs["data"] = form
                if self._auth is not None:
                    kwargs["auth"] = self._auth
                response = self._client.request(method, url, **kwargs)
            except httpx.TimeoutException as exc:
                error: ProviderError = TransientError(self.provider, f"timeout ({type(exc).__name__})")
            except httpx.TransportError as exc:
                error = TransientError(self.provider, f"connection error ({type(exc).__name__})")
            else:
                if response.is_success:
                    return self._decode(response)
                headers = response.headers
                error = self._error(response)
            if not self.policy.should_retry(attempt, error, headers):
                raise error
            retry_after = error.retry_after if isinstance(error, RateLimited) else None
            self._sleep(self.policy.sleep_seconds(attempt, retry_after, self._rand))

    def malformed(self, message: str) -> MalformedResponse:
        return MalformedResponse(self.provider, redact(message, self._secrets))

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past what we parse
            body = None
        if not isinstance(body, dict):
            raise MalformedResponse(
                self.provider, "response is not a JSON object", status=response.status_code,
                request_id=_request_id(response),
            )
        return body

    def _error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        message = redact(_error_message(response), self._secrets)[:_MAX_MESSAGE]
        kwargs = {"status": status, "request_id": _request_id(response)}
        if status in (401, 403):
            return AuthError(self.provider, message, **kwargs)
        if status == 429:
            return RateLimited(
                self.provider, message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs
            )
        if status >= 500 or status == 408:
            return TransientError(self.provider, message, **kwargs)
        return BadRequest(self.provider, message, **kwargs)


def _request_id(response: httpx.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return value
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past what we parse
        return None
    return body.get("request_id") if isinstance(body, dict) and isinstance(body.get("request_id"), str) else None


def _error_message(response: httpx.Response) -> str:
    """The provider's own reason: OpenAI/Anthropic/Stripe/BigQuery ``error.message``, Twilio ``message``."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past what we parse
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("message", "detail", "title", "error_description"):  # the last: OAuth token errors
            if isinstance(body.get(key), str):
                return body[key]
    return response.reason_phrase or f"HTTP {response.status_code}"
