"""The tenancy matrix: every workspace route, present and future, discovered from the app's route
table, called by outsiders. None may see or change another workspace's data."""

from __future__ import annotations

import time

import jwt
import pytest

PREFIX = "/api/workspaces/{workspace_id}"


def workspace_routes(app):
    for path, methods in sorted(app.routes.items()):
        if path.startswith(PREFIX):
            for method in sorted(methods):
                yield path, method


@pytest.fixture(scope="module")
def victim(api):
    """A workspace with a second member and a recognisable name."""
    owner = api.new_user("victim")
    api.patch(f"/api/workspaces/{owner.workspace_id}", {"name": "VICTIM-SECRET-NAME"}, token=owner.token)
    colleague = api.new_user("victimcolleague")
    api.post(f"/api/workspaces/{owner.workspace_id}/members", {"email": colleague.email}, token=owner.token)
    return owner, colleague


def _fill(path, owner, colleague):
    return path.replace("{workspace_id}", owner.workspace_id).replace("{user_id}", colleague.user_id).replace(
        "{connection_id}", "conn_x").replace("{alert_id}", "alert_x").replace("{key_id}", "key_x")


def _tokens(api, owner):
    import os

    outsider = api.new_user("outsider")
    claims = jwt.decode(owner.token, options={"verify_signature": False})
    key = os.environ["COSTPILOT_SECRET_TOKEN_SIGNING_KEY"]
    return {
        "none": None,
        "outsider": outsider.token,
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 1}, key, algorithm="HS256"),
        "forged": jwt.encode(claims, "not-the-real-key-but-long-enough-000", algorithm="HS256"),
    }


def test_matrix_covers_routes(app):
    assert len(list(workspace_routes(app))) >= 7


def test_no_outsider_reaches_a_workspace(api, app, victim):
    owner, colleague = victim
    secrets_in_victim = [owner.email, colleague.email, "VICTIM-SECRET-NAME", colleague.user_id]
    tokens = _tokens(api, owner)
    checked = 0
    for path, method in workspace_routes(app):
        url = _fill(path, owner, colleague)
        for kind, token in tokens.items():
            r = api.call(method, url, json_body={"name": "pwned", "email": "x@example.com", "role": "owner"},
                         token=token)
            expected = 404 if kind == "outsider" else 401
            assert r.status == expected, (method, path, kind, r.status, r.body)
            assert r.json["error"]["code"] in ("not_found", "unauthenticated")
            for secret in secrets_in_victim:
                assert secret not in r.text, (method, path, kind)
            checked += 1
    assert checked >= 7 * 4
    # and nothing changed
    ws = api.get(f"/api/workspaces/{owner.workspace_id}", token=owner.token).json
    assert ws["name"] == "VICTIM-SECRET-NAME"
    members = api.get(f"/api/workspaces/{owner.workspace_id}/members", token=owner.token).json["members"]
    assert sorted(m["email"] for m in members) == sorted([owner.email, colleague.email])
