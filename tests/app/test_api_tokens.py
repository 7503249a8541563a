"""Personal API tokens over HTTP: shown once and stored hashed, usable as bearer tokens within the
user's role, read scope refused on writes, revocation and expiry, last use recorded."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import errors
from chalicelib.services import api_tokens
from chalicelib.store.api_tokens import ApiToken

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def new_token(api, user, **body):
    r = api.post("/api/me/tokens", {"name": "cli", **body}, token=user.token)
    assert r.status == 201, r.body
    return r.json


def test_token_is_shown_once_stored_hashed_and_listed_without_secret(api, user):
    created = new_token(api, user, scope="read")
    token = created["token"]
    assert token.startswith("cpat_") and created["token_id"] == token[:16] and created["scope"] == "read"
    listed = api.get("/api/me/tokens", token=user.token)
    assert listed.status == 200 and token not in listed.text
    assert [t["token_id"] for t in listed.json["tokens"]] == [created["token_id"]]
    stored = ApiToken.get(created["token_id"])
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored.attribute_values)


def test_read_token_reads_but_cannot_write(api, user):
    token = new_token(api, user, scope="read")["token"]
    assert api.get("/api/me", token=token).status == 200
    ws = user.workspace_id
    assert api.get(f"/api/workspaces/{ws}/usage", token=token).status == 200
    r = api.post(f"/api/workspaces/{ws}/ingest-keys", {"name": "k"}, token=token)
    assert r.status == 403 and "read-only" in r.json["error"]["message"]
    assert api.get(f"/api/workspaces/{ws}/ingest-keys", token=user.token).json["ingest_keys"] == []


def test_read_write_token_writes_within_the_users_role(api, user):
    token = new_token(api, user, scope="read_write")["token"]
    assert api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "k"}, token=token).status == 201
    member = api.new_user("member")
    api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": member.email}, token=user.token)
    member_token = new_token(api, member, scope="read_write")["token"]
    assert api.get(f"/api/workspaces/{user.workspace_id}/usage", token=member_token).status == 200
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "k"}, token=member_token)
    assert r.status == 403  # the role still decides
    stranger = new_token(api, api.new_user("stranger"), scope="read_write")["token"]
    assert api.get(f"/api/workspaces/{user.workspace_id}/usage", token=stranger).status == 404


def test_tokens_cannot_manage_tokens(api, user):
    token = new_token(api, user, scope="read_write")
    assert api.post("/api/me/tokens", {"name": "more"}, token=token["token"]).status == 403
    assert api.delete(f"/api/me/tokens/{token['token_id']}", token=token["token"]).status == 403


def test_revoked_tokens_stop_working_and_only_their_owner_can_revoke(api, user):
    token = new_token(api, user)
    other = api.new_user("other")
    assert api.delete(f"/api/me/tokens/{token['token_id']}", token=other.token).status == 404
    assert api.get("/api/me", token=token["token"]).status == 200
    r = api.delete(f"/api/me/tokens/{token['token_id']}", token=user.token)
    assert r.status == 200 and r.json["active"] is False
    again = api.delete(f"/api/me/tokens/{token['token_id']}", token=user.token)
    assert again.status == 200 and again.json["revoked_at"] == r.json["revoked_at"]
    r = api.get("/api/me", token=token["token"])
    assert r.status == 401 and "revoked" in r.json["error"]["message"]


@pytest.mark.parametrize("bearer", ["cpat_", "cpat_" + "x" * 43, "cpat_" + "!" * 43, "cpat_" + "a" * 500])
def test_bad_tokens_are_401(api, bearer):
    r = api.get("/api/me", token=bearer)
    assert r.status == 401 and r.json["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("body", [{"name": "x", "scope": "admin"}, {"name": "x", "expires_in_days": 0},
                                  {"name": "x", "expires_in_days": 10_000}, {"name": ""}, {"name": "x", "extra": 1}])
def test_bad_create_requests_are_400(api, user, body):
    r = api.post("/api/me/tokens", body, token=user.token)
    assert r.status == 400 and r.json["error"]["field"]


def test_expiry_and_last_use_with_a_fixed_clock(api, user):
    principal = api_tokens.accounts.Principal(user.user_id, user.email, "session")
    created = api_tokens.create(principal, "ci", "read", 7, now=T0)
    token = created["token"]
    assert created["expires_at"] == (T0 + timedelta(days=7)).isoformat()
    who = api_tokens.authenticate(f"Bearer {token}", "GET", now=T0 + timedelta(days=1))
    assert who.user_id == user.user_id and who.scope == "read"
    assert ApiToken.get(created["token_id"]).last_used_at == T0 + timedelta(days=1)
    api_tokens.authenticate(f"Bearer {token}", "GET", now=T0 + timedelta(days=1, seconds=30))
    assert ApiToken.get(created["token_id"]).last_used_at == T0 + timedelta(days=1)  # at most once a minute
    with pytest.raises(errors.Unauthenticated, match="expired"):
        api_tokens.authenticate(f"Bearer {token}", "GET", now=T0 + timedelta(days=7))
    never = api_tokens.create(principal, "forever", "read", None, now=T0)
    assert never["expires_at"] is None
    assert api_tokens.authenticate(f"Bearer {never['token']}", "GET", now=T0 + timedelta(days=3650)).user_id
