"""Posting a notification to an HTTP channel (Slack, Discord, a generic webhook).

One decision on failure, as a good client makes it: timeouts, connection errors, 408, 429 and 5xx
are worth retrying; any other 4xx means the target is gone or refuses us (a deleted Slack hook
answers 404), and retrying would not help. Redirects are never followed (a redirect to an internal
address would dodge the target check), and in deployed stages the host's DNS answer must be public.
Neither URLs nor response bodies are logged or put in errors: they can carry tokens.
"""

from __future__ import annotations

import json
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from chalicelib import config
from chalicelib.domain.alert_channels import is_public_ip

TIMEOUT_SECONDS = 5.0
USER_AGENT = "CostPilot-Alerts/1.0"


class DeliveryError(Exception):
    """A send that did not succeed. ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


@lru_cache(maxsize=1)
def _client() -> Any:
    import httpx

    return httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=3.0), follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def reset() -> None:
    _client.cache_clear()


def _check_resolves_public(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise DeliveryError(f"the host {host} does not resolve") from None
    if not answers or not all(is_public_ip(a[4][0]) for a in answers):
        raise DeliveryError(f"the host {host} resolves to a non-public address", retryable=False)


def post_json(url: str, payload: dict, headers: dict[str, str] | None = None, *, body: bytes | None = None) -> int:
    """POSTs ``payload`` (or the exact ``body`` bytes, when a signature covers them); returns the status."""
    import httpx

    if config.is_deployed():
        _check_resolves_public(url)
    data = body if body is not None else json.dumps(payload).encode()
    host = urlsplit(url).hostname
    try:
        response = _client().post(url, content=data, headers={"Content-Type": "application/json", **(headers or {})})
    except httpx.TimeoutException:
        raise DeliveryError(f"{host} did not answer within {TIMEOUT_SECONDS:.0f} s") from None
    except httpx.HTTPError as e:
        raise DeliveryError(f"could not reach {host} ({type(e).__name__})") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    retryable = status in (408, 425, 429) or status >= 500
    raise DeliveryError(f"{host} answered HTTP {status}", retryable=retryable, status=status)
