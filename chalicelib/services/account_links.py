"""Single-use, expiring links sent by email (store.account_links): issue one, redeem it once.

The secret in the link is 32 random bytes (URL-safe); the table keeps its SHA-256. Redeeming reads
the item and deletes it under a condition on its existence: of two concurrent redemptions exactly
one wins, the other sees an invalid link. An expired link is refused even before TTL removes it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, DoesNotExist

from chalicelib.errors import ValidationFailed
from chalicelib.store.account_links import AccountLink
from chalicelib.store.base import is_condition_failure

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"
INVITATION = "invitation"
INVALID = "this link is invalid, used or expired; ask for a new one"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(kind: str, email: str, ttl_seconds: int, *, now: float | None = None,
          **fields: str) -> tuple[str, AccountLink]:
    """A new link of ``kind`` for ``email``: (the secret for the URL, the stored item)."""
    secret = secrets.token_urlsafe(32)
    expires = datetime.fromtimestamp(int(now or time.time()) + ttl_seconds, UTC)
    link = AccountLink(digest(secret), kind=kind, email=email, expires_at=expires, **fields)
    link.save(condition=AccountLink.link_hash.does_not_exist())
    return secret, link


def peek(kind: str, secret: str, *, now: float | None = None) -> AccountLink:
    """The live link behind ``secret`` without using it up; ``ValidationFailed`` if there is none."""
    if not secret or len(secret) > 200:
        raise ValidationFailed(INVALID, field="token")
    try:
        link = AccountLink.get(digest(secret), consistent_read=True)
    except DoesNotExist:
        raise ValidationFailed(INVALID, field="token") from None
    if link.kind != kind or link.expires_at.timestamp() <= (now or time.time()):
        raise ValidationFailed(INVALID, field="token")
    return link


def redeem(kind: str, secret: str, *, now: float | None = None) -> AccountLink:
    """Uses the link up (once, even under concurrent redemptions) and returns what it carried."""
    link = peek(kind, secret, now=now)
    try:
        link.delete(condition=AccountLink.link_hash.exists())
    except DeleteError as e:
        if is_condition_failure(e):
            raise ValidationFailed(INVALID, field="token") from None
        raise
    return link


def url(path: str, secret: str, public_url: str) -> str:
    """The link in the email: the secret rides in the fragment, so it never reaches a server log."""
    return f"{public_url}{path}#token={secret}"
