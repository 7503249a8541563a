"""The Stripe calls CostPilot makes to sell its own subscription, behind one small class.

stripe-python is imported on first use (cold starts), the client is built once per (key, base)
with an explicit timeout and stripe's own capped, jittered retries (which honour Stripe's
``Stripe-Should-Retry`` and reuse the request's idempotency key), and every answer is returned as
a plain dict so the domain (``domain.subscription``) never sees a ``StripeObject``.

The API base is the stage's ``COSTPILOT_STRIPE_API_BASE`` (the fake on the local stack and in
tests; unset means api.stripe.com). The secret key and the webhook secret are read by name
through ``adapters.secrets``.
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any

from chalicelib import config, errors
from chalicelib.adapters import secrets

log = logging.getLogger("costpilot.stripe")

WEBHOOK_TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 10.0
MAX_NETWORK_RETRIES = 2


class InvalidWebhook(ValueError):
    """The webhook's signature header is missing, forged, stale or does not match the body."""


class StripeUnavailable(errors.ServiceUnavailable):
    """Stripe could not be reached or failed (network, 5xx, rate limit): the caller may retry (503;
    a webhook's 5xx makes Stripe retry). ``detail`` (logs only) says what Stripe answered."""

    code = "billing_unavailable"

    def __init__(self, detail: str):
        super().__init__("Stripe could not be reached; try again shortly.", retry_after=30)
        self.detail = detail


class StripeRejected(errors.UpstreamFailed):
    """Stripe refused the request (4xx other than rate limiting): retrying the same will not help (502)."""

    code = "billing_error"

    def __init__(self, detail: str):
        super().__init__("Stripe refused the request.")
        self.detail = detail


class StripeGateway:
    """One method per call; pass a built ``stripe.StripeClient`` (tests and the local stack point
    it at the fake through ``base_addresses``)."""

    def __init__(self, client: Any):
        self._client = client

    def create_customer(self, workspace_id: str, *, idempotency_key: str, description: str) -> str:
        """A customer for the workspace. The parameters depend on the workspace only, so a repeat
        with the same idempotency key (a concurrent or retried call) answers the same customer."""
        params = {"description": description, "metadata": {"workspace_id": workspace_id}}
        customer = self._call(self._client.v1.customers.create, params=params,
                              options={"idempotency_key": idempotency_key})
        return customer["id"]

    def create_checkout_session(self, *, customer_id: str, price_id: str, workspace_id: str, plan: str,
                                success_url: str, cancel_url: str) -> dict:
        metadata = {"workspace_id": workspace_id, "plan": plan}
        params = {
            "mode": "subscription",
            "customer": customer_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "client_reference_id": workspace_id,
            "metadata": metadata,
            # Copied onto the subscription (and its invoices' parent details), so every later
            # event names its workspace even before checkout.session.completed arrives.
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        return self._call(self._client.v1.checkout.sessions.create, params=params)

    def create_portal_session(self, *, customer_id: str, return_url: str) -> dict:
        return self._call(self._client.v1.billing_portal.sessions.create,
                          params={"customer": customer_id, "return_url": return_url})

    def retrieve_subscription(self, subscription_id: str) -> dict:
        return self._call(self._client.v1.subscriptions.retrieve, subscription_id)

    def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> dict:
        """Ends the subscription now, crediting the unused time (prorated)."""
        return self._call(self._client.v1.subscriptions.cancel, subscription_id, params={"prorate": True},
                          options={"idempotency_key": idempotency_key})

    def retrieve_checkout_session(self, session_id: str) -> dict:
        return self._call(self._client.v1.checkout.sessions.retrieve, session_id)

    def expire_checkout_session(self, session_id: str) -> dict:
        """An open Checkout Session can never be paid after this (Stripe answers 400 if not open)."""
        return self._call(self._client.v1.checkout.sessions.expire, session_id)

    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> dict:
        import stripe

        try:
            result = method(*args, **kwargs)
        except (stripe.APIConnectionError, stripe.RateLimitError) as e:
            raise StripeUnavailable(f"Stripe unavailable: {e.user_message or type(e).__name__}") from e
        except stripe.StripeError as e:
            status = e.http_status or 0
            if status >= 500 or status in (0, 409, 429):
                raise StripeUnavailable(f"Stripe failed ({status}, request {e.request_id})") from e
            raise StripeRejected(f"Stripe rejected the request ({status} {e.code or ''}, request "
                                 f"{e.request_id}): {e.user_message or ''}".strip()) from e
        return result.to_dict(recursive=True)


def verify_webhook(payload: bytes, signature_header: str | None, secret: str,
                   tolerance: int = WEBHOOK_TOLERANCE_SECONDS, now: float | None = None) -> dict:
    """The event from a webhook body, after stripe's verifier accepted its ``Stripe-Signature``
    (HMAC-SHA256 over ``"{t}.{raw body}"``, any ``v1`` matching) and ``t`` is within ``tolerance``
    of ``now`` in either direction (stripe's own check only refuses old timestamps)."""
    import stripe

    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, secret, None)
    except stripe.SignatureVerificationError as e:
        raise InvalidWebhook(str(e).split(". ")[0]) from None
    except (UnicodeDecodeError, ValueError, TypeError):  # a body that is not UTF-8 text, or a mangled header
        raise InvalidWebhook("the body or the Stripe-Signature header is malformed") from None
    signed_at = _signed_at(signature_header or "")
    now = time.time() if now is None else now
    if signed_at is None or abs(now - signed_at) > tolerance:
        raise InvalidWebhook(f"timestamp more than {tolerance} s from the server clock")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidWebhook("the signed body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidWebhook("the signed body is not a Stripe event")
    return event


def _signed_at(header: str) -> int | None:
    """The ``t=`` of a ``Stripe-Signature`` header (already verified), or None."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value) if value.isdigit() and len(value) <= 12 else None
    return None


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str | None) -> Any:
    import stripe

    options: dict[str, Any] = {
        "max_network_retries": MAX_NETWORK_RETRIES,
        "http_client": stripe.HTTPXClient(timeout=TIMEOUT_SECONDS, allow_sync_methods=True),
    }
    if api_base:
        options["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **options)


def gateway() -> StripeGateway:
    """The stage's gateway (built on first use; a changed key or base builds a new client)."""
    return StripeGateway(_client(secrets.get("stripe-secret-key"), config.stripe_api_base()))


def webhook_secret() -> str:
    return secrets.get("stripe-webhook-secret")
