"""Twilio's webhook signature (``X-Twilio-Signature``), as twilio-python's RequestValidator computes
it: base64(HMAC-SHA1(auth token, the full URL Twilio requested + every POST parameter's name and
value, names sorted)). Pure. The signature has no timestamp: a replayed request verifies, so
whoever receives one must make its effect idempotent (see services/sms_status.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Twilio-Signature"


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def valid(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None) -> bool:
    """Constant-time comparison of ``signature`` with what ``auth_token`` gives for the request."""
    if not signature or not auth_token:
        return False
    return hmac.compare_digest(compute(auth_token, url, params).encode(), signature.strip().encode())
