"""Bearer tokens: short-lived JWTs (PyJWT, HS256) naming a server-side session that logout deletes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from chalicelib import config
from chalicelib.adapters import secrets
from chalicelib.errors import Unauthenticated

ISSUER = "costpilot"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Claims:
    user_id: str
    email: str
    session_id: str
    expires_at: int


def issue(user_id: str, email: str, session_id: str, expires_at: int) -> str:
    payload = {
        "iss": ISSUER,
        "aud": config.stage(),
        "sub": user_id,
        "email": email,
        "sid": session_id,
        "iat": int(time.time()),
        "exp": expires_at,
    }
    return jwt.encode(payload, secrets.get("token-signing-key"), algorithm=ALGORITHM)


def verify(token: str) -> Claims:
    try:
        payload = jwt.decode(
            token,
            secrets.get("token-signing-key"),
            algorithms=[ALGORITHM],
            audience=config.stage(),
            issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "email"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise Unauthenticated("token expired") from e
    except jwt.InvalidTokenError as e:
        raise Unauthenticated("invalid token") from e
    return Claims(payload["sub"], payload["email"], payload["sid"], int(payload["exp"]))
