"""Browser sessions: the bearer token in an HttpOnly cookie, with CSRF protection.

A browser that logs in gets ``cp_session`` (HttpOnly, SameSite=Strict, Secure unless the app is
served from a loopback address) holding its token, and ``cp_csrf`` (readable by the page) holding a
token derived from the session with HMAC. Every state-changing call authenticated by the cookie must
echo ``cp_csrf`` in the ``X-CSRF-Token`` header: another site can make the browser send the cookie,
but cannot read it to forge the header. A request with an ``Authorization`` header is an API client:
the cookie is ignored and no CSRF token is needed.
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from chalicelib import config
from chalicelib.adapters import secrets
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.lazy import lazy

accounts = lazy("chalicelib.services.accounts")
tokens = lazy("chalicelib.services.tokens")
api_tokens = lazy("chalicelib.services.api_tokens")
workspaces = lazy("chalicelib.services.workspaces")

SESSION_COOKIE = "cp_session"
CSRF_COOKIE = "cp_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class CsrfRejected(Forbidden):
    code = "csrf_rejected"


def cookies(request: Any) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(request.headers.get("cookie") or "")
    except CookieError:
        return {}
    return {k: m.value for k, m in jar.items()}


def csrf_token(session_id: str) -> str:
    key = secrets.get("token-signing-key").encode()
    return hmac.new(key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def authenticate(request: Any) -> Any:
    """The caller, from the bearer header or else the session cookie (plus CSRF check)."""
    return authorize(request, None)[0]


def authorize(request: Any, workspace_id: str | None) -> tuple[Any, Any]:
    """``authenticate``, and with ``workspace_id`` the caller's membership of it (``None``: not a
    member; ``workspaces.check`` decides). A login session and its membership are one read
    (``accounts.authenticate_in``); a personal API token names its user only once read, so its
    membership is a second read."""
    authorization = request.headers.get("authorization")
    if authorization and api_tokens.is_api_token(authorization.removeprefix("Bearer ").strip()):
        # a personal API token (its scope checked against the method)
        principal = api_tokens.authenticate(authorization, request.method.upper())
        return principal, None if workspace_id is None else workspaces.membership(principal, workspace_id)
    if authorization:  # a login session's bearer token
        return accounts.authenticate_in(authorization, workspace_id)
    token = cookies(request).get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("log in first (no bearer token or session cookie)")
    principal, membership = accounts.authenticate_in(f"Bearer {token}", workspace_id)
    if request.method.upper() not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(sent.encode(), csrf_token(principal.session_id).encode()):
            raise CsrfRejected("missing or wrong X-CSRF-Token header for a cookie session")
    return principal, membership


def _secure() -> bool:
    return (urlsplit(config.public_url()).hostname or "") not in LOOPBACK


def _cookie(name: str, value: str, max_age: int, *, http_only: bool) -> str:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "SameSite=Strict"]
    if http_only:
        parts.append("HttpOnly")
    if _secure():
        parts.append("Secure")
    return "; ".join(parts)


def login_cookies(token: str, expires_at: int, now: int) -> list[str]:
    session_id = tokens.verify(token).session_id
    max_age = max(0, expires_at - now)
    return [_cookie(SESSION_COOKIE, token, max_age, http_only=True),
            _cookie(CSRF_COOKIE, csrf_token(session_id), max_age, http_only=False)]


def logout_cookies() -> list[str]:
    return [_cookie(SESSION_COOKIE, "", 0, http_only=True), _cookie(CSRF_COOKIE, "", 0, http_only=False)]


def wants_cookie(request: Any) -> bool:
    """The dashboard asks for a cookie session (and no token in the body) with this header."""
    return (request.headers.get("x-costpilot-session") or "").lower() == "cookie"
