"""Counted plan limits hold under concurrency: N parallel creates on Free store exactly the limit
(alert rules, connections, members, ingest keys), removals give the place back, and a counter
that is missing or drifted is rebuilt from the items, never below zero."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.plans import FREE, Limit, PlanLimitExceeded

PARALLEL = 8


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")


def _owner(user):
    from chalicelib.store.identity import Membership

    return Membership.get(user.workspace_id, user.user_id)


def _race(fn, n=PARALLEL):
    """Runs ``fn(i)`` n times at once; answers 'ok' or the exception's class name per call."""
    def one(i):
        try:
            fn(i)
            return "ok"
        except Exception as e:  # noqa: BLE001 - the outcome is what is compared
            return type(e).__name__

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _workspace(user):
    from chalicelib.store.identity import Workspace

    return Workspace.get(user.workspace_id, consistent_read=True)


def _rule(i):
    return {"name": f"rule {i}", "kind": "threshold", "amount": str(50 + i), "period": {"kind": "weekly"},
            "channels": [{"type": "email"}]}


def test_parallel_alert_creates_store_exactly_the_limit(api, user):
    from chalicelib.services import alerts
    from chalicelib.store import alerts as alert_store

    m = _owner(user)
    results = _race(lambda i: alerts.create(m, _rule(i)))
    assert results.count("ok") == FREE.limits.alert_rules
    assert set(results) == {"ok", "PlanLimitExceeded"}
    assert len(alert_store.rules(user.workspace_id)) == FREE.limits.alert_rules
    assert _workspace(user).active_alert_rule_count == FREE.limits.alert_rules


def test_pausing_deleting_and_resuming_alerts_move_the_counter(api, user):
    from chalicelib.services import alerts
    from chalicelib.store import alerts as alert_store

    m = _owner(user)
    ids = [alerts.create(m, _rule(i))["alert_id"] for i in range(3)]
    alerts.set_status(m, ids[0], "paused")
    alerts.delete(m, ids[1])
    assert _workspace(user).active_alert_rule_count == 1
    ids.append(alerts.create(m, _rule(3))["alert_id"])
    ids.append(alerts.create(m, _rule(4))["alert_id"])
    with pytest.raises(PlanLimitExceeded):
        alerts.set_status(m, ids[0], "active")  # three active already
    alerts.delete(m, ids[0])  # a paused rule gives back nothing
    assert _workspace(user).active_alert_rule_count == 3
    results = _race(lambda i: alerts.set_status(m, ids[2 + i % 3], "paused"), n=6)
    assert "RuntimeError" not in results
    assert _workspace(user).active_alert_rule_count == 0 == len(alert_store.rules(user.workspace_id, active_only=True))


def test_parallel_connection_creates_store_exactly_the_limit(api, user, monkeypatch):
    from chalicelib.services import connections
    from chalicelib.store.connections import Connection

    monkeypatch.setattr(connections, "_check_key", lambda provider, credentials: "…abcd")
    monkeypatch.setattr(connections, "request_sync", lambda c, reason: None)
    m = _owner(user)
    results = _race(lambda i: connections.create(m, "openai", f"c{i}", {"admin_key": f"sk-admin-{i:032d}"}))
    assert results.count("ok") == FREE.limits.connections
    stored = list(Connection.query(user.workspace_id))
    assert len(stored) == FREE.limits.connections == _workspace(user).connection_count
    results = _race(lambda i: connections.delete(m, stored[0].connection_id), n=4)
    assert results.count("ok") == 1 and _workspace(user).connection_count == 1


def test_parallel_invites_store_exactly_the_member_limit(api, user):
    from chalicelib.domain.roles import Role
    from chalicelib.services import workspaces
    from chalicelib.store.identity import Membership

    m = _owner(user)
    people = [api.new_user(f"p{i}") for i in range(5)]
    results = _race(lambda i: workspaces.invite(m, people[i].email, Role.MEMBER), n=5)
    assert results.count("ok") == FREE.limits.members - 1  # the owner is one
    assert Membership.count(user.workspace_id) == FREE.limits.members == _workspace(user).member_count
    joined = [p for p in people if Membership.count(user.workspace_id, Membership.user_id == p.user_id)]
    workspaces.remove(m, joined[0].user_id)
    assert _workspace(user).member_count == FREE.limits.members - 1


def test_parallel_ingest_key_creates_store_exactly_the_limit_and_revokes_give_back(api, user):
    from chalicelib.services import ingestion
    from chalicelib.store.ingest_keys import IngestKey

    m = _owner(user)
    results = _race(lambda i: ingestion.create_key(m, f"k{i}"))
    assert results.count("ok") == FREE.limits.ingest_keys
    keys = list(IngestKey.by_workspace.query(user.workspace_id))
    assert len(keys) == FREE.limits.ingest_keys == _workspace(user).live_ingest_key_count
    results = _race(lambda i: ingestion.revoke_key(m, keys[0].key_id), n=4)
    assert results == ["ok"] * 4 and _workspace(user).live_ingest_key_count == FREE.limits.ingest_keys - 1
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "again"}, token=user.token)
    assert r.status == 201
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "one more"}, token=user.token)
    assert (r.status, r.json["error"]["limit"]) == (402, "ingest_keys")


def test_a_missing_or_drifted_counter_is_rebuilt_and_never_goes_below_zero(api, user):
    from chalicelib.services import alerts, counters
    from chalicelib.store.identity import Workspace

    m = _owner(user)
    first = alerts.create(m, _rule(0))["alert_id"]
    # a workspace from before counters: nothing counted yet
    Workspace(user.workspace_id).update(actions=[Workspace.active_alert_rule_count.remove()])
    alerts.create(m, _rule(1))
    assert _workspace(user).active_alert_rule_count == 2
    # drift: the counter says 0 while a rule is active; a delete rebuilds instead of going to -1
    Workspace(user.workspace_id).update(actions=[Workspace.active_alert_rule_count.set(0)])
    alerts.delete(m, first)
    assert _workspace(user).active_alert_rule_count == 1
    Workspace(user.workspace_id).update(actions=[Workspace.member_count.set(7)])
    assert counters.rebuild_all(user.workspace_id)[Limit.MEMBERS.value] == 1
    assert _workspace(user).member_count == 1


def test_the_repair_command_reports_and_fixes_a_drifted_counter(api, user, capsys):
    from chalicelib.store.identity import Workspace
    from chalicelib.tools import rebuild_counters

    Workspace(user.workspace_id).update(actions=[Workspace.member_count.set(4)])
    assert rebuild_counters.main([user.workspace_id]) == 0
    assert "REPAIRED members 4 -> 1" in capsys.readouterr().out
    assert _workspace(user).member_count == 1
    rebuild_counters.main([user.workspace_id])
    assert "unchanged" in capsys.readouterr().out
