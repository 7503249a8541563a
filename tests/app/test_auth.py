"""Accounts through the real HTTP routes (chalice test client) over moto DynamoDB."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

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


@pytest.fixture(autouse=True)
def client_address(monkeypatch):
    """Each test logs in from its own address (API Gateway's source IP), so the per-client counter
    starts at zero; ``client_address(ip)`` switches address mid-test."""
    from chalice.local import LambdaEventConverter

    def use(ip: str) -> None:
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)

    use(f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")
    return use


def _login(api, email, password):
    return api.post("/api/auth/login", {"email": email, "password": password})


def test_repeated_failed_logins_are_throttled(api):
    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    statuses = [_login(api, email, "nope nope nope").status for _ in range(5)]
    assert statuses == [401] * 5
    r = _login(api, email, PASSWORD)  # even the right password, from this client
    assert r.status == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.json["error"]["code"] == "too_many_attempts"


def test_a_stranger_guessing_cannot_lock_the_owner_out(api, client_address):
    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    client_address("203.0.113.66")
    assert [_login(api, email, "guess guess guess").status for _ in range(8)] == [401] * 5 + [429] * 3
    client_address("198.51.100.20")  # the owner, elsewhere
    r = _login(api, email, PASSWORD)
    assert r.status == 200 and r.json["token"]
    client_address("203.0.113.66")
    assert _login(api, email, PASSWORD).status == 429  # the stranger stays paused


def test_known_and_unknown_emails_answer_alike_throttled_or_not(api, client_address):
    known = _email("known")
    api.post("/api/auth/signup", {"email": known, "password": PASSWORD})
    answers = {}
    for email in (known, _email("nobody")):
        client_address(f"192.0.2.{len(answers) + 10}")
        replies = [_login(api, email, "wrong password!") for _ in range(6)]
        answers[email] = [(r.status, r.json["error"]["code"], r.json["error"]["message"]) for r in replies]
    first, second = answers.values()
    assert first == second
    assert [a[0] for a in first] == [401] * 5 + [429]


def test_a_success_clears_the_pair_and_one_client_cannot_spray_many_accounts(api, client_address, monkeypatch):
    monkeypatch.setenv("COSTPILOT_LOGIN_MAX_CLIENT_FAILURES", "6")
    email = _email()
    api.post("/api/auth/signup", {"email": email, "password": PASSWORD})
    assert [_login(api, email, "wrong password!").status for _ in range(4)] == [401] * 4
    assert _login(api, email, PASSWORD).status == 200  # resets this pair: four more may fail
    assert [_login(api, email, "wrong password!").status for _ in range(2)] == [401] * 2
    # six failures from this client now: every further account is refused to it
    assert _login(api, _email("other"), "wrong password!").status == 429
    client_address("192.0.2.200")
    assert _login(api, _email("other"), "wrong password!").status == 401


def test_unknown_emails_cost_a_full_password_verification(api, monkeypatch):
    from chalicelib.services import passwords

    verified = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: verified.append(h) or real(h, p))
    _login(api, _email("nobody"), "wrong password!")
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")
    params = passwords._hasher()
    assert f"m={params.memory_cost},t={params.time_cost},p={params.parallelism}" in verified[0]


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
