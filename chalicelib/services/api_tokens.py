"""Personal API tokens: create (shown once), list, revoke, and authenticate bearer requests.

A token is ``cpat_`` + 43 URL-safe characters (256 random bits); its first 16 characters are its
public id (the lookup key) and only a SHA-256 of the whole token is stored (as for ingest keys:
a CSPRNG secret needs no slow KDF). A token acts as its user on every route their workspace role
allows; a ``read`` token is refused on any method that is not a read. Only a login session can
manage tokens, so a leaked token cannot mint more. Last use is recorded at most once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from chalicelib.errors import Forbidden, NotFound, Unauthenticated
from chalicelib.services import accounts
from chalicelib.store.api_tokens import ApiToken

PREFIX = "cpat_"
PUBLIC_CHARS = 16
SCOPES = ("read", "read_write")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKENS_PER_USER = 50
LAST_USED_GRANULARITY = timedelta(minutes=1)
_SHAPE = re.compile(r"cpat_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class TokenPrincipal(accounts.Principal):
    """A caller authenticated by a personal API token (``session_id`` is the token's id)."""

    token_id: str = ""
    scope: str = "read"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_api_token(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


def _view(t: ApiToken, now: datetime) -> dict:
    return {
        "token_id": t.token_id,
        "name": t.name,
        "scope": t.scope,
        "created_at": t.created_at.isoformat(),
        "expires_at": t.expires_at.isoformat() if t.expires_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "active": t.revoked_at is None and (t.expires_at is None or t.expires_at > now),
    }


def _require_session(principal: accounts.Principal) -> None:
    if isinstance(principal, TokenPrincipal):
        raise Forbidden("API tokens are managed from a login session, not with another token")


def create(principal: accounts.Principal, name: str, scope: str, expires_in_days: int | None,
           now: datetime | None = None) -> dict:
    _require_session(principal)
    now = now or datetime.now(UTC)
    if sum(1 for _ in ApiToken.by_user.query(principal.user_id)) >= MAX_TOKENS_PER_USER:
        raise Forbidden(f"at most {MAX_TOKENS_PER_USER} tokens per user; revoke some first")
    token = PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        token[:PUBLIC_CHARS], user_id=principal.user_id, email=principal.email, name=name, scope=scope,
        token_hash=_hash(token), created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    record.save(condition=ApiToken.token_id.does_not_exist())
    return {**_view(record, now), "token": token,
            "note": "Store it now: CostPilot keeps only a hash and cannot show it again."}


def list_tokens(principal: accounts.Principal, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(UTC)
    return [_view(t, now) for t in ApiToken.by_user.query(principal.user_id)]


def revoke(principal: accounts.Principal, token_id: str, now: datetime | None = None) -> dict:
    _require_session(principal)
    now = now or datetime.now(UTC)
    try:
        t = ApiToken.get(token_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("token not found") from None
    if t.user_id != principal.user_id:
        raise NotFound("token not found")
    if t.revoked_at is None:
        t.update(actions=[ApiToken.revoked_at.set(now)], condition=ApiToken.revoked_at.does_not_exist())
    return _view(t, now)


def authenticate(authorization: str | None, method: str, now: datetime | None = None) -> accounts.Principal:
    """The caller of a request: a personal API token, else a login session (accounts)."""
    header = authorization or ""
    bearer = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not is_api_token(bearer):
        return accounts.authenticate(authorization)
    now = now or datetime.now(UTC)
    if not _SHAPE.fullmatch(bearer):
        raise Unauthenticated("not a valid API token")
    try:
        t = ApiToken.get(bearer[:PUBLIC_CHARS], consistent_read=True)
    except DoesNotExist:
        raise Unauthenticated("unknown API token") from None
    if not hmac.compare_digest(_hash(bearer), t.token_hash):
        raise Unauthenticated("unknown API token")
    if t.revoked_at is not None:
        raise Unauthenticated("this API token was revoked")
    if t.expires_at is not None and t.expires_at <= now:
        raise Unauthenticated("this API token expired")
    if t.scope != "read_write" and method.upper() not in READ_METHODS:
        raise Forbidden("this API token is read-only; create a read_write token to change things")
    if t.last_used_at is None or now - t.last_used_at >= LAST_USED_GRANULARITY:
        t.update(actions=[ApiToken.last_used_at.set(now)])
    return TokenPrincipal(t.user_id, t.email, t.token_id, token_id=t.token_id, scope=t.scope)
