"""Sending SMS through CostPilot's own Twilio account (Programmable Messaging, Messages API).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, HTTP Basic with the
Account SID and auth token (or an API key SID and secret), ``From`` a Twilio number or
``MessagingServiceSid`` an ``MG...`` service, and a ``StatusCallback`` URL that Twilio POSTs each
status change to (signed with the account's auth token, see services/sms_status.py).

The credentials are the stage's secrets, read in ``credentials()`` only (one place to change when
secrets move behind another adapter): ``twilio-account-sid``, ``twilio-auth-token`` (also the
key of the callbacks' signatures), ``twilio-sender`` (``+1...`` or ``MG...``) and optionally
``twilio-api-key`` as ``SK...:secret``.

Channel strictness as for the other channels: unless the local stack opts out
(``config.local_channels_allowed``), the API base must be https and a status callback is only
given when the stage's public URL is https.

Errors carry Twilio's code. Retrying helps on timeouts, 429 and 5xx; a 4xx (21211 invalid
``To``, 21608 an unverified number on a trial account, 21610 the recipient replied STOP, 20003
bad credentials) will not get better by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib import config
from chalicelib.adapters import secrets
from chalicelib.adapters.channels import DeliveryError

TIMEOUT_SECONDS = 10.0
API_VERSION = "2010-04-01"


class NotConfigured(DeliveryError):
    def __init__(self) -> None:
        super().__init__("SMS is not configured on this stage (Twilio secrets missing)", retryable=False)


class TwilioRefused(DeliveryError):
    """Twilio answered with an error; ``code`` is Twilio's (21211, 21608, 20003...)."""

    def __init__(self, message: str, *, code: int | None, status: int, retryable: bool) -> None:
        super().__init__(message, retryable=retryable, status=status)
        self.code = code


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str
    sender: str
    api_key: tuple[str, str] | None = None

    @property
    def login(self) -> tuple[str, str]:
        return self.api_key or (self.account_sid, self.auth_token)


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str  # queued | accepted | ...


def _secret(name: str, *, required: bool = True) -> str:
    try:
        return secrets.get(name)
    except Exception:  # noqa: BLE001 - a missing parameter (or no SSM at all) means not configured
        if required:
            raise NotConfigured() from None
        return ""


def credentials() -> Credentials:
    """CostPilot's Twilio account, from the stage's secrets (the one place they are read)."""
    api_key = _secret("twilio-api-key", required=False)
    pair = tuple(api_key.split(":", 1)) if ":" in api_key else None
    creds = Credentials(_secret("twilio-account-sid"), _secret("twilio-auth-token"), _secret("twilio-sender"),
                        pair)  # type: ignore[arg-type]
    if not (creds.account_sid and creds.auth_token and creds.sender):
        raise NotConfigured()
    return creds


@lru_cache(maxsize=1)
def _client() -> Any:
    import httpx

    return httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=3.0), follow_redirects=False,
                        trust_env=False, transport=httpx.HTTPTransport(retries=0),
                        headers={"User-Agent": "CostPilot-Alerts/1.0"})


def reset() -> None:
    _client.cache_clear()


def send(to: str, body: str, status_callback: str | None = None) -> Sent:
    """Queues one SMS with Twilio; raises ``DeliveryError`` (``TwilioRefused`` with Twilio's code)."""
    import httpx

    creds = credentials()
    base = config.twilio_api_base()
    local = config.local_channels_allowed()  # the local stack's fake Twilio on plain http, 127.0.0.1
    if not local and not base.startswith("https://"):
        raise DeliveryError("the Twilio API base must be https", retryable=False)
    form = {"To": to, "Body": body}
    form["MessagingServiceSid" if creds.sender.startswith("MG") else "From"] = creds.sender
    if status_callback and (local or status_callback.startswith("https://")):  # Twilio must reach it
        form["StatusCallback"] = status_callback
    url = f"{base}/{API_VERSION}/Accounts/{creds.account_sid}/Messages.json"
    try:
        response = _client().post(url, data=form, auth=creds.login)
    except httpx.TimeoutException:
        raise DeliveryError(f"Twilio did not answer within {TIMEOUT_SECONDS:.0f} s") from None
    except httpx.HTTPError as e:
        raise DeliveryError(f"could not reach Twilio ({type(e).__name__})") from None
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    status = response.status_code
    if 200 <= status < 300 and isinstance(payload, dict) and str(payload.get("sid", "")).startswith(("SM", "MM")):
        return Sent(payload["sid"], str(payload.get("status") or "queued"))
    if 200 <= status < 300:
        raise DeliveryError("Twilio answered without a message sid")
    code = payload.get("code") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    retryable = status in (408, 429) or status >= 500
    text = f"Twilio refused the SMS (HTTP {status}, error {code}): {str(message or '')[:200]}".rstrip(": ")
    raise TwilioRefused(text, code=code if isinstance(code, int) else None, status=status, retryable=retryable)
