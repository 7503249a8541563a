"""Workspaces, members, roles and the last-owner rule, over HTTP."""

from __future__ import annotations

import pytest


def _ws(user):
    return f"/api/workspaces/{user.workspace_id}"


def test_list_create_rename_delete(api, user):
    r = api.post("/api/workspaces", {"name": "Side project"}, token=user.token)
    assert r.status == 201 and r.json["role"] == "owner"
    new_id = r.json["workspace_id"]
    names = [w["name"] for w in api.get("/api/workspaces", token=user.token).json["workspaces"]]
    assert names == ["My workspace", "Side project"]
    r = api.patch(f"/api/workspaces/{new_id}", {"name": "  Renamed  "}, token=user.token)
    assert r.status == 200 and r.json["name"] == "Renamed"
    assert api.delete(f"/api/workspaces/{new_id}", token=user.token).status == 204
    assert api.get(f"/api/workspaces/{new_id}", token=user.token).status == 404
    assert len(api.get("/api/workspaces", token=user.token).json["workspaces"]) == 1


def test_deleting_a_workspace_removes_its_keys_and_usage(api, user):
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from chalicelib.domain.usage import RecordKind, UsageRecord
    from chalicelib.store import pushed_events, usage
    from chalicelib.store.connections import Connection
    from chalicelib.store.ingest_keys import IngestKey

    ws = user.workspace_id
    assert api.post(f"{_ws(user)}/ingest-keys", {"name": "k"}, token=user.token).status == 201
    Connection(ws, "conn_gone", provider="openai", label="x", credentials=b"sealed").save()
    at = datetime.now(UTC)
    pushed_events.add_events(ws, [UsageRecord(ws, RecordKind.EVENT, "push:k", "openai", at, at + timedelta(seconds=1),
                                      billed_cost=Decimal(1), idempotency_id="e1")])
    assert api.delete(_ws(user), token=user.token).status == 204
    assert list(Connection.query(ws)) == [] and list(IngestKey.by_workspace.query(ws)) == []
    assert list(usage.records(ws)) == [] and usage.stored_rollups(ws, "p") == {}


def test_invite_existing_user_and_roles_gate_actions(api, user):
    admin, member = api.new_user("admin"), api.new_user("member")
    assert api.post(f"{_ws(user)}/members", {"email": admin.email, "role": "admin"}, token=user.token).status == 201
    assert api.post(f"{_ws(user)}/members", {"email": member.email.upper()}, token=user.token).status == 201
    # duplicate invite
    r = api.post(f"{_ws(user)}/members", {"email": member.email}, token=user.token)
    assert r.status == 409
    # unknown email
    r = api.post(f"{_ws(user)}/members", {"email": "ghost@example.com"}, token=user.token)
    assert (r.status, r.json["error"]["field"]) == (404, "email")

    members = api.get(f"{_ws(user)}/members", token=member.token).json["members"]
    assert {m["email"]: m["role"] for m in members} == {user.email: "owner", admin.email: "admin",
                                                        member.email: "member"}

    # members read only
    assert api.patch(_ws(user), {"name": "x"}, token=member.token).status == 403
    assert api.post(f"{_ws(user)}/members", {"email": api.new_user().email}, token=member.token).status == 403
    # admins manage members and the workspace name, but not roles, owners or deletion
    assert api.patch(_ws(user), {"name": "Admin was here"}, token=admin.token).status == 200
    assert api.patch(f"{_ws(user)}/members/{member.user_id}", {"role": "admin"}, token=admin.token).status == 403
    assert api.post(f"{_ws(user)}/members", {"email": api.new_user().email, "role": "owner"},
                    token=admin.token).status == 403
    assert api.delete(f"{_ws(user)}/members/{user.user_id}", token=admin.token).status == 403
    assert api.delete(_ws(user), token=admin.token).status == 403
    # owners change roles
    r = api.patch(f"{_ws(user)}/members/{member.user_id}", {"role": "admin"}, token=user.token)
    assert r.status == 200 and r.json["role"] == "admin"
    # admins remove non-owners
    assert api.delete(f"{_ws(user)}/members/{member.user_id}", token=admin.token).status == 204
    assert api.get(_ws(user), token=member.token).status == 404


def test_a_workspace_always_keeps_an_owner(api, user):
    r = api.patch(f"{_ws(user)}/members/{user.user_id}", {"role": "member"}, token=user.token)
    assert (r.status, r.json["error"]["code"]) == (409, "last_owner")
    r = api.delete(f"{_ws(user)}/members/{user.user_id}", token=user.token)
    assert (r.status, r.json["error"]["code"]) == (409, "last_owner")
    second = api.new_user("second")
    api.post(f"{_ws(user)}/members", {"email": second.email, "role": "owner"}, token=user.token)
    assert api.patch(f"{_ws(user)}/members/{user.user_id}", {"role": "admin"}, token=user.token).status == 200
    r = api.delete(f"{_ws(user)}/members/{second.user_id}", token=second.token)
    assert r.status == 409  # second is now the last owner
    assert api.get(_ws(user), token=second.token).json["role"] == "owner"


def test_concurrent_demotions_never_leave_zero_owners(api, user, aws):
    """Two owners demote each other at once: the owner_count condition lets exactly one win."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.domain.roles import Role
    from chalicelib.services import workspaces
    from chalicelib.store.identity import Membership, Workspace

    second = api.new_user("second")
    api.post(f"{_ws(user)}/members", {"email": second.email, "role": "owner"}, token=user.token)
    a = Membership.get(user.workspace_id, user.user_id)
    b = Membership.get(user.workspace_id, second.user_id)

    def demote(actor, target):
        try:
            workspaces.change_role(actor, target, Role.MEMBER)
            return "ok"
        except Exception as e:  # noqa: BLE001
            return type(e).__name__

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: demote(*args), [(a, second.user_id), (b, user.user_id)]))
    owners = [m for m in Membership.query(user.workspace_id) if m.role == "owner"]
    assert len(owners) == 1 == Workspace.get(user.workspace_id).owner_count
    assert results.count("ok") == 1


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 101}, {"name": 5}, {}, {"name": "ok", "x": 1}])
def test_bad_workspace_bodies(api, user, body):
    r = api.post("/api/workspaces", body, token=user.token)
    assert r.status == 400 and r.json["error"]["code"] == "validation_error"
