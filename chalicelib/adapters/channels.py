"""Posting a notification to an HTTP channel (Slack, Discord, a generic webhook).

One decision on failure, as a good client makes it: timeouts, connection errors, 408, 429 and 5xx
are worth retrying; any other 4xx means the target is gone or refuses us (a deleted Slack hook
answers 404), and retrying would not help. Redirects are never followed (a redirect to an internal
address would dodge the target check), and proxies from the environment are not used.

Unless the local stack opts out (config.local_channels_allowed), the URL's rules are checked again
at send time, and the address each connection actually reached is checked before a byte is sent
(``_PublicPeersOnly``): a name that resolved to a public address when the channel was saved and to
an internal one now (DNS rebinding) reaches nothing. Neither URLs nor response bodies are logged or
put in errors: they can carry tokens.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from chalicelib import config
from chalicelib.domain.alert_channels import ChannelInvalid, check_url, is_public_ip

TIMEOUT_SECONDS = 5.0
USER_AGENT = "CostPilot-Alerts/1.0"


class DeliveryError(Exception):
    """A send that did not succeed. ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None,
                 final_status: str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.final_status = final_status  # settled without a send: "capped", "cancelled" (not dead)


class NonPublicPeer(Exception):
    """A channel connection reached a loopback, private, link-local or otherwise non-public address."""


@lru_cache(maxsize=2)
def _client(strict: bool) -> Any:
    import httpx

    transport = httpx.HTTPTransport(retries=0)
    if strict:
        transport._pool._network_backend = _public_peers_only()  # checked on every new connection
    return httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=3.0), follow_redirects=False,
                        trust_env=False, transport=transport, headers={"User-Agent": USER_AGENT})


def _public_peers_only() -> Any:
    import httpcore

    class _PublicPeersOnly(httpcore.SyncBackend):
        """httpcore's socket backend, refusing a TCP connection whose peer is not a public address
        (checked on the connected socket, before TLS and before the request is written)."""

        def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
            stream = super().connect_tcp(host, port, *args, **kwargs)
            peer = stream.get_extra_info("server_addr")
            if not peer or not is_public_ip(str(peer[0])):
                stream.close()
                raise NonPublicPeer(f"the host {host} resolves to a non-public address")
            return stream

        def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
            raise NonPublicPeer("unix sockets are not channel targets")

    return _PublicPeersOnly()


def reset() -> None:
    _client.cache_clear()


def post_json(url: str, payload: dict, headers: dict[str, str] | None = None, *, body: bytes | None = None) -> int:
    """POSTs ``payload`` (or the exact ``body`` bytes, when a signature covers them); returns the status."""
    import httpx

    strict = not config.local_channels_allowed()
    host = urlsplit(url).hostname
    if strict:
        try:
            check_url(url, "webhook")
        except ChannelInvalid as e:
            raise DeliveryError(str(e), retryable=False) from None
    data = body if body is not None else json.dumps(payload).encode()
    try:
        response = _client(strict).post(url, content=data,
                                        headers={"Content-Type": "application/json", **(headers or {})})
    except NonPublicPeer as e:
        raise DeliveryError(str(e), retryable=False) from None
    except httpx.TimeoutException:
        raise DeliveryError(f"{host} did not answer within {TIMEOUT_SECONDS:.0f} s") from None
    except httpx.HTTPError as e:
        raise DeliveryError(f"could not reach {host} ({type(e).__name__})") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    retryable = status in (408, 425, 429) or status >= 500
    raise DeliveryError(f"{host} answered HTTP {status}", retryable=retryable, status=status)
