"""Notification channels: what a valid target is, how it is shown, and the webhook signature.

Slack and Discord incoming-webhook URLs are bearer secrets (whoever has one can post), so they are
stored sealed and only ever shown as a hint (``https://hooks.slack.com/…a1b2``). The rules are
strict by default: https targets on public addresses only (no loopback, private, link-local or
metadata addresses, and the Slack/Discord hosts for those kinds). Only the local stack opts out
(``allow_local``), so that plain-http receivers on 127.0.0.1 work. At send time the address
actually connected to is checked again (``is_public_ip``; adapters/channels.py), because a public
name can later resolve to a private one (DNS rebinding).

Generic webhooks are signed like Stripe's: header ``CostPilot-Signature: t=<unix>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>." + body)``; receivers check the HMAC and that ``t`` is recent.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

CHANNEL_TYPES = ("email", "slack", "discord", "webhook", "sms")
SIGNATURE_HEADER = "CostPilot-Signature"
MAX_URL_LENGTH = 2048
_SLACK_HOSTS = {"hooks.slack.com"}
_DISCORD_HOSTS = {"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"}
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class ChannelInvalid(ValueError):
    """A channel target we refuse; the message never repeats the URL (it may hold a token)."""


def is_public_ip(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, kind: str, *, allow_local: bool = False) -> str:
    """The URL, stripped, if ``kind`` may post to it; raises ``ChannelInvalid``. Strict unless
    ``allow_local`` (the local stack's explicit opt-out)."""
    strict = not allow_local
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise ChannelInvalid("a URL of at most 2048 characters is required")
    parts = urlsplit(url)
    allowed_schemes = ("https",) if strict else ("https", "http")
    if parts.scheme not in allowed_schemes:
        raise ChannelInvalid("the URL must use https" if strict else "the URL must use http or https")
    if parts.username or parts.password:
        raise ChannelInvalid("the URL must not carry a user name or password")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ChannelInvalid("the URL has no host")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ChannelInvalid("the URL's port is not valid") from None
    if parts.fragment:
        raise ChannelInvalid("the URL must not have a fragment")
    if strict:
        if host == "localhost" or host.endswith(_BLOCKED_SUFFIXES):
            raise ChannelInvalid("the URL must point to a public host")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            if not is_public_ip(host):
                raise ChannelInvalid("the URL must not point to a private, loopback or link-local address")
        if kind == "slack" and (host not in _SLACK_HOSTS or not parts.path.startswith("/services/")):
            raise ChannelInvalid("a Slack incoming webhook URL starts with https://hooks.slack.com/services/")
        if kind == "discord" and (host not in _DISCORD_HOSTS or not parts.path.startswith("/api/webhooks/")):
            raise ChannelInvalid("a Discord webhook URL starts with https://discord.com/api/webhooks/")
    return url


def url_hint(url: str) -> str:
    """What the API shows of a stored URL: scheme, host and the last four characters."""
    parts = urlsplit(url)
    tail = url.rstrip("/")[-4:] if len(parts.path.strip("/")) >= 8 else ""
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…{tail}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver does with ``CostPilot-Signature`` (used by our tests and local receivers)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}")
