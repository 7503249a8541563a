"""Google service-account credentials: the key JSON, checked, and the OAuth 2.0 JWT bearer grant.

We sign the grant ourselves (RFC 7523, as google-auth does): an RS256 JWT with the key's
``client_email`` as issuer, the token URI as audience and the BigQuery scope, exchanged at the
token URI for an access token that lasts about an hour. PyJWT and ``cryptography`` are already in
the deployment (session tokens, aws-encryption-sdk), so this adds no bytes to the zip where
google-auth would add ~0.5 MiB and pyasn1 (see the note in README "Connections").

The token URI is fixed to Google's: a key JSON that names another host is refused, so a hostile
key cannot make the sync worker post signed assertions elsewhere. Tests and the local stack pass
``token_url`` (the fake's) explicitly.

``jwt`` and ``cryptography`` are imported on first use, off the API's cold start.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from chalicelib.providers.errors import AuthError, BadRequest, MalformedResponse
from chalicelib.providers.http import ProviderHTTP

TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/bigquery"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600  # Google's maximum lifetime for the assertion
REFRESH_MARGIN = 300  # renew a token five minutes before it expires
MAX_KEY_CHARS = 8192  # a real key JSON is ~2.3 KB
_EMAIL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}@[a-z0-9.-]{1,200}$")
_KEY_ID = re.compile(r"^[0-9a-f]{8,64}$")


class InvalidKey(ValueError):
    """The key JSON does not have a service account key's shape (the message names fields only)."""


@dataclass(frozen=True)
class ServiceAccountKey:
    client_email: str
    private_key_id: str
    project_id: str | None
    private_key: Any = field(repr=False)  # a cryptography RSA private key

    def __repr__(self) -> str:
        return f"ServiceAccountKey(client_email={self.client_email!r}, private_key_id=…{self.private_key_id[-4:]})"


def parse_key(text: str) -> ServiceAccountKey:
    """The key in a service account's JSON key file; ``InvalidKey`` if it is not one."""
    if not isinstance(text, str) or len(text) > MAX_KEY_CHARS:
        raise InvalidKey(f"service_account_key must be the key file's JSON text (at most {MAX_KEY_CHARS} characters)")
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidKey("service_account_key is not JSON (paste the whole key file)") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise InvalidKey('service_account_key must be a service account key file ("type": "service_account")')
    email, key_id, pem = data.get("client_email"), data.get("private_key_id"), data.get("private_key")
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise InvalidKey("service_account_key has no valid client_email")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise InvalidKey("service_account_key has no valid private_key_id")
    token_uri = data.get("token_uri", TOKEN_URL)
    if token_uri != TOKEN_URL:
        raise InvalidKey(f"service_account_key token_uri must be {TOKEN_URL}")
    project_id = data.get("project_id")
    return ServiceAccountKey(email, key_id, project_id if isinstance(project_id, str) else None, _load_rsa(pem))


def _load_rsa(pem: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if not isinstance(pem, str) or "PRIVATE KEY-----" not in pem:
        raise InvalidKey("service_account_key has no PEM private_key")
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidKey("service_account_key private_key cannot be read") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise InvalidKey("service_account_key private_key must be an RSA key of 2048 bits or more")
    return key


def assertion(key: ServiceAccountKey, now: float, audience: str = TOKEN_URL, scope: str = SCOPE) -> str:
    """The signed JWT for the bearer grant (audience: Google's token URI)."""
    import jwt

    issued = int(now)
    claims = {"iss": key.client_email, "scope": scope, "aud": audience, "iat": issued,
              "exp": issued + ASSERTION_SECONDS}
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.private_key_id})


class TokenAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <access token>``; fetches and caches the token (``_exchange``),
    and renews it once when the API answers 401 (a token revoked or expired early)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.token(renew=True)}"
            yield request

    def token(self, *, renew: bool = False) -> str:
        with self._lock:
            now = self._clock()
            if renew or self._token is None or now >= self._expires_at - REFRESH_MARGIN:
                self._token, lifetime = self._exchange(now)
                self._expires_at = now + lifetime
            return self._token

    def _exchange(self, now: float) -> tuple[str, int]:
        """A new access token and its lifetime in seconds."""
        raise NotImplementedError


class ServiceAccountAuth(TokenAuth):
    """The JWT bearer grant with a service account key."""

    def __init__(self, key: ServiceAccountKey, token_http: ProviderHTTP, token_url: str = TOKEN_URL,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._key = key
        self._http = token_http
        self._token_url = token_url

    def __repr__(self) -> str:
        return f"ServiceAccountAuth({self._key!r})"

    def _exchange(self, now: float) -> tuple[str, int]:
        form = {"grant_type": GRANT_TYPE, "assertion": assertion(self._key, now)}
        try:
            body = self._http.post_form(self._token_url, form)
        except BadRequest as e:  # invalid_grant: unknown or deleted key, bad signature, clock skew
            raise AuthError(e.provider, f"the token exchange was refused: {e.message}", status=e.status,
                            request_id=e.request_id) from None
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not token or isinstance(lifetime, bool) or not isinstance(lifetime, int):
            raise MalformedResponse(self._http.provider, "token response has no access_token / expires_in")
        return token, max(60, lifetime)
