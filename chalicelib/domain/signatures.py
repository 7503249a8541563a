"""Authenticating pushed usage: HMAC request signatures and ingest keys.

``POST /api/webhooks/provider-usage`` accepts either credential:

* **Ingest key** (``Authorization: Bearer cpk_live_...``): a long random secret shown once. We
  store only its SHA-256 hash and a short public prefix for listing.
* **Signed request**: the team's code signs ``f"{timestamp}.{raw_body}"`` with HMAC-SHA256 under
  a workspace signing secret and sends::

      X-CostPilot-Signature: t=1735689600,kid=cpsig_AbCd1234,v1=5257a869...,v1=9f0c...

  - ``t``: Unix seconds when the request was signed. It is inside the MAC, so it cannot be
    moved; a request more than 300 s from our clock (either direction) is refused as stale.
  - ``v1``: lower-case hex HMAC-SHA256 of the ASCII bytes ``f"{t}."`` followed by the raw body
    bytes exactly as sent (never a re-serialisation). Several ``v1`` may be sent during secret
    rotation: the request is genuine if any of them matches any current secret.
  - ``kid`` (optional): the public prefix of the signing secret, so the server can find the
    workspace without a bearer key. Unknown elements (``v0=``, future schemes) are ignored.

  Replays inside the 300 s window are harmless: every event carries an idempotency id, so a
  replayed batch is reported as duplicates and changes nothing.

The HMAC secret must be stored recoverably (encrypted under KMS, like provider keys): unlike an
ingest key, the server needs the plaintext to recompute the MAC, so a hash will not do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SIGNATURE_HEADER = "X-CostPilot-Signature"
SIGNATURE_SCHEME = "v1"
TOLERANCE_SECONDS = 300
INGEST_KEY_PREFIX = "cpk_live_"
SIGNING_SECRET_PREFIX = "cpsig_"
PUBLIC_PREFIX_CHARS = 16  # "cpk_live_" + 7 random chars (~42 bits): enough to tell keys apart
KEY_RANDOM_BYTES = 32

_MAX_HEADER_CHARS = 2048
_MAX_SIGNATURES = 8
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_KEY_CHARS = re.compile(r"[A-Za-z0-9_-]+")


class SignatureError(ValueError):
    """A signed request we refuse. ``reason`` is one of the class constants (stable, for clients)."""

    MISSING = "missing_header"
    MALFORMED = "malformed"
    STALE = "stale"
    MISMATCH = "mismatch"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]  # lower-case hex digests, scheme v1
    key_id: str | None = None


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def compute_signature(secret: str | bytes, timestamp: int, raw_body: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}."`` + the raw body, under ``secret``."""
    message = f"{int(timestamp)}.".encode("ascii") + _as_bytes(raw_body)
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def sign(
    secrets_: str | bytes | Iterable[str | bytes],
    raw_body: str | bytes,
    timestamp: int,
    key_id: str | None = None,
) -> str:
    """The ``X-CostPilot-Signature`` header value; several secrets give several ``v1`` (rotation)."""
    if isinstance(secrets_, (str, bytes)):
        secrets_ = [secrets_]
    parts = [f"t={int(timestamp)}"]
    if key_id:
        parts.append(f"kid={key_id}")
    parts += [f"{SIGNATURE_SCHEME}={compute_signature(s, timestamp, raw_body)}" for s in secrets_]
    return ",".join(parts)


def parse_signature_header(header: str | None) -> ParsedSignature:
    """Parse ``t=<unix>,[kid=<id>,]v1=<hex>[,v1=<hex>...]``; raises ``SignatureError``."""
    if header is None or not header.strip():
        raise SignatureError(SignatureError.MISSING, f"missing {SIGNATURE_HEADER} header")
    if len(header) > _MAX_HEADER_CHARS:
        raise SignatureError(SignatureError.MALFORMED, f"{SIGNATURE_HEADER} header is too long")
    timestamp: int | None = None
    key_id: str | None = None
    found: list[str] = []
    for element in header.split(","):
        name, sep, value = element.strip().partition("=")
        if not sep:
            raise SignatureError(
                SignatureError.MALFORMED,
                f"{SIGNATURE_HEADER}: expected name=value pairs",
            )
        name, value = name.strip(), value.strip()
        if name == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise SignatureError(
                    SignatureError.MALFORMED,
                    f"{SIGNATURE_HEADER}: t must be one Unix timestamp in seconds",
                )
            timestamp = int(value)
        elif name == "kid":
            if not value or len(value) > 64 or not _KEY_CHARS.fullmatch(value):
                raise SignatureError(SignatureError.MALFORMED, f"{SIGNATURE_HEADER}: malformed kid")
            key_id = value
        elif name == SIGNATURE_SCHEME:
            value = value.lower()
            if not _HEX64.fullmatch(value):
                raise SignatureError(
                    SignatureError.MALFORMED,
                    f"{SIGNATURE_HEADER}: v1 must be 64 hex characters",
                )
            found.append(value)
    if timestamp is None:
        raise SignatureError(SignatureError.MALFORMED, f"{SIGNATURE_HEADER}: missing t=<unix seconds>")
    if not found:
        raise SignatureError(SignatureError.MALFORMED, f"{SIGNATURE_HEADER}: missing v1=<hex signature>")
    if len(found) > _MAX_SIGNATURES:
        raise SignatureError(
            SignatureError.MALFORMED,
            f"{SIGNATURE_HEADER}: at most {_MAX_SIGNATURES} signatures",
        )
    return ParsedSignature(timestamp, tuple(found), key_id)


def verify_signature(
    header: str | None,
    raw_body: str | bytes,
    secrets_: Iterable[str | bytes],
    now: float | datetime,
    tolerance: int = TOLERANCE_SECONDS,
) -> ParsedSignature:
    """Check a signed request; returns the parsed header or raises ``SignatureError``.

    Order of checks: header present, well formed, MAC matches one current secret (constant-time
    compare of every candidate, so timing says nothing about which part differed), then freshness.
    A genuine but late request is therefore reported as ``stale`` (clock skew), not ``mismatch``.
    """
    parsed = parse_signature_header(header)
    candidates = [s for s in secrets_ if s]
    matched = False
    for secret in candidates:
        expected = compute_signature(secret, parsed.timestamp, raw_body).encode("ascii")
        for given in parsed.signatures:
            # no early exit: every comparison runs, whichever matches
            matched |= hmac.compare_digest(expected, given.encode("ascii"))
    if not matched:
        raise SignatureError(
            SignatureError.MISMATCH,
            "signature does not match the request body and timestamp",
        )
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - parsed.timestamp) > tolerance:
        raise SignatureError(
            SignatureError.STALE,
            f"signature timestamp is more than {tolerance} s from the server clock; sign each request when sending it",
        )
    return parsed


# --- ingest keys -------------------------------------------------------------------------------


def generate_ingest_key(random_bytes: int = KEY_RANDOM_BYTES) -> str:
    """A new ingest key: ``cpk_live_`` + URL-safe base64 of ``random_bytes`` (>= 32) random bytes."""
    if random_bytes < 32:
        raise ValueError("an ingest key needs at least 32 random bytes")
    return INGEST_KEY_PREFIX + secrets.token_urlsafe(random_bytes)


def generate_signing_secret(random_bytes: int = KEY_RANDOM_BYTES) -> str:
    """A new HMAC signing secret (store it encrypted; its public prefix is the ``kid``)."""
    if random_bytes < 32:
        raise ValueError("a signing secret needs at least 32 random bytes")
    return SIGNING_SECRET_PREFIX + secrets.token_urlsafe(random_bytes)


def public_prefix(key: str) -> str:
    """The first characters of a key, safe to show in listings and logs (``cpk_live_Ab3dE9x``)."""
    return key[:PUBLIC_PREFIX_CHARS]


def is_ingest_key(value: str) -> bool:
    """Cheap shape check before any lookup: prefix, URL-safe alphabet, >= 32 bytes of randomness."""
    if not isinstance(value, str) or not value.startswith(INGEST_KEY_PREFIX):
        return False
    body = value[len(INGEST_KEY_PREFIX) :]
    return 43 <= len(body) <= 128 and bool(_KEY_CHARS.fullmatch(body))


def hash_ingest_key(key: str) -> str:
    """The stored form of an ingest key: hex SHA-256.

    A fast unsalted hash is right here, unlike for passwords: the key carries 256 bits from a
    CSPRNG, so no dictionary or brute-force search can reach it and a slow KDF (argon2, bcrypt)
    would add nothing but latency on every ingest request. Being deterministic, the hash is also
    the lookup key (a GSI on the hash finds the key row from the presented bearer in one read),
    which a per-row salt would prevent.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def verify_ingest_key(presented: str, stored_hash: str) -> bool:
    """True if ``presented`` hashes to ``stored_hash`` (constant-time compare)."""
    if not isinstance(presented, str) or not isinstance(stored_hash, str):
        return False
    return hmac.compare_digest(
        hash_ingest_key(presented).encode("ascii"),
        stored_hash.encode("ascii", "replace"),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token
