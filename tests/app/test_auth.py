"""Accounts through the real HTTP routes (chalice test client) over moto DynamoDB."""

from __future__ import annotations

import time
import uuid

import jwt

from tests.helpers import PASSWORD


def _email(prefix="a"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}@Example.COM"


def test_signup_creates_user_workspace_and_owner_membership(api):
    email = _email()
    r = api.post("/api/auth/signup", {"email": email, "password": PASSWORD, "workspace_name": "Acme"})
    assert r.status == 201
    assert r.json["email"] == email.lower()
    token = api.post("/api/auth/login", {"email": email.upper(), "password": PASSWORD}).json["token"]
    me = api.get("/api/me", token=token).json
    assert me["email"] == email.lower()
    assert [(w["name"], w["role"]) for w in me["workspaces"]] == [("Acme", "owner")]
    assert "password_hash" not in str(me)


def test_duplicate_email_is_409_whatever_the_case_or_spaces(api):
    email = _email()
    assert api.post("/api/auth/signup", {"email": email, "password": PASSWORD}).status == 201
    r = api.post("/api/auth/signup", {"email": "  " + email.upper() + " ", "password": PASSWORD})
    assert r.status == 409
    assert r.json["error"]["code"] == "already_exists"
    assert r.json["error"]["field"] == "email"


def test_validation_errors_name_the_field(api):
    r = api.post("/api/auth/signup", {"email": "not-an-email", "password": PASSWORD})
    assert (r.status, r.json["error"]["field"]) == (400, "email")
    r = api.post("/api/auth/signup", {"email": _email(), "password": "short"})
    assert (r.status, r.json["error"]["field"]) == (400, "password")
    r = api.post("/api/auth/signup", {"email": _email(), "password": PASSWORD, "admin": True})
    assert (r.status, r.json["error"]["field"]) == (400, "admin")
    assert "unknown field" in r.json["error"]["message"]
    r = api.post("/api/auth/signup", {"email": _email(), "password": 12345678901})
    assert (r.status, r.json["error"]["field"]) == (400, "password")


def test_password_is_stored_as_argon2id(api, aws):
    from chalicelib.store.identity import User

    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    stored = User.get(email.lower()).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_rejects_wrong_password_and_unknown_email_alike(api):
    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    wrong = api.post("/api/auth/login", {"email": email, "password": "wrong password!"})
    unknown = api.post("/api/auth/login", {"email": _email("nobody"), "password": PASSWORD})
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json


def test_repeated_failed_logins_are_throttled(api):
    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    statuses = [api.post("/api/auth/login", {"email": email, "password": "nope nope nope"}).status for _ in range(5)]
    assert statuses == [401] * 5
    r = api.post("/api/auth/login", {"email": email, "password": PASSWORD})  # even the right password
    assert r.status == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.json["error"]["code"] == "too_many_attempts"


def test_logout_revokes_the_token(api, user):
    assert api.get("/api/me", token=user.token).status == 200
    assert api.post("/api/auth/logout", token=user.token).status == 204
    r = api.get("/api/me", token=user.token)
    assert r.status == 401 and r.json["error"]["code"] == "unauthenticated"


def test_logout_revokes_only_that_session(api, user):
    other = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}).json["token"]
    api.post("/api/auth/logout", token=user.token)
    assert api.get("/api/me", token=other).status == 200


def test_expired_and_forged_tokens_are_rejected(api, user):
    import os

    claims = jwt.decode(user.token, options={"verify_signature": False})
    key = os.environ["COSTPILOT_SECRET_TOKEN_SIGNING_KEY"]
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="HS256")
    forged = jwt.encode(claims, "someone-elses-key-0123456789abcdef", algorithm="HS256")
    none_alg = jwt.encode(claims, None, algorithm="none")
    for token in (expired, forged, none_alg, "garbage", user.token + "x"):
        r = api.get("/api/me", token=token)
        assert r.status == 401, token
        assert r.json["error"]["code"] == "unauthenticated"
    assert api.get("/api/me").status == 401
    assert "www-authenticate" in api.get("/api/me").headers
