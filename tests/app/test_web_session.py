"""The dashboard's browser session: an HttpOnly cookie, CSRF on state-changing calls, bearer unchanged."""

from __future__ import annotations

import re

from tests.helpers import PASSWORD


def _cookie_login(api, user):
    r = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD},
                 headers={"X-CostPilot-Session": "cookie"})
    assert r.status == 200, r.json
    return r


def _set_cookies(reply) -> list[str]:
    raw = reply.headers.get("set-cookie")
    return raw if isinstance(raw, list) else [c.strip() for c in re.split(r",(?=\s*cp_)", raw or "")]


def _jar(reply) -> str:
    return "; ".join(c.split(";", 1)[0] for c in _set_cookies(reply))


def test_cookie_login_sets_httponly_samesite_cookies_and_keeps_the_token_out_of_the_body(api, user, monkeypatch):
    from chalicelib import config

    monkeypatch.setattr(config, "public_url", lambda: "http://127.0.0.1:8000")
    r = _cookie_login(api, user)
    assert "token" not in r.json and r.json["token_type"] == "cookie"
    session, csrf = sorted(_set_cookies(r), key=lambda c: not c.startswith("cp_session"))
    assert session.startswith("cp_session=") and "HttpOnly" in session and "SameSite=Strict" in session
    assert "Path=/" in session and "Secure" not in session  # served from loopback
    assert csrf.startswith("cp_csrf=") and "HttpOnly" not in csrf
    assert csrf.split(";")[0].split("=", 1)[1] == r.json["csrf_token"]


def test_cookies_are_secure_when_not_on_loopback(api, user, monkeypatch):
    from chalicelib import config

    monkeypatch.setattr(config, "public_url", lambda: "https://costpilot.example.com")
    assert all("Secure" in c for c in _set_cookies(_cookie_login(api, user)))


def test_the_cookie_authenticates_reads(api, user):
    jar = _jar(_cookie_login(api, user))
    r = api.get("/api/me", headers={"Cookie": jar})
    assert r.status == 200 and r.json["email"] == user.email
    assert r.headers["cache-control"] == "no-store"


def test_state_changing_calls_with_the_cookie_need_the_csrf_header(api, user):
    login = _cookie_login(api, user)
    jar, csrf = _jar(login), login.json["csrf_token"]
    path = f"/api/workspaces/{user.workspace_id}/ingest-keys"
    for headers in ({"Cookie": jar}, {"Cookie": jar, "X-CSRF-Token": "0" * 64},
                    {"Cookie": jar, "X-CSRF-Token": csrf[:-1]}):
        r = api.post(path, {"name": "from a forged form"}, headers=headers)
        assert (r.status, r.json["error"]["code"]) == (403, "csrf_rejected")
    assert api.get(path, headers={"Cookie": jar}).json["ingest_keys"] == []  # nothing was created
    r = api.post(path, {"name": "from the dashboard"}, headers={"Cookie": jar, "X-CSRF-Token": csrf})
    assert r.status == 201


def test_a_csrf_token_of_another_session_is_refused(api, user):
    mine, other = _cookie_login(api, user), _cookie_login(api, user)
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "x"},
                 headers={"Cookie": _jar(mine), "X-CSRF-Token": other.json["csrf_token"]})
    assert r.status == 403


def test_bearer_tokens_keep_working_without_csrf(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "ci"}, token=user.token)
    assert r.status == 201


def test_logout_with_the_cookie_clears_it_and_ends_the_session(api, user):
    login = _cookie_login(api, user)
    jar, csrf = _jar(login), login.json["csrf_token"]
    assert api.post("/api/auth/logout", headers={"Cookie": jar}).status == 403  # CSRF applies to logout too
    r = api.post("/api/auth/logout", headers={"Cookie": jar, "X-CSRF-Token": csrf})
    assert r.status == 204
    cleared = _set_cookies(r)
    assert {c.split("=", 1)[0] for c in cleared} == {"cp_session", "cp_csrf"}
    assert all("Max-Age=0" in c for c in cleared)
    assert api.get("/api/me", headers={"Cookie": jar}).status == 401


def test_no_credentials_is_401_and_a_garbage_cookie_too(api):
    assert api.get("/api/me").status == 401
    assert api.get("/api/me", headers={"Cookie": "cp_session=garbage"}).status == 401
    assert api.get("/api/me", headers={"Cookie": '"unbalanced'}).status == 401
