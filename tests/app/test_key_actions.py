"""Stopping a leaked key, through the Chalice app and the fake providers: a spike firing names the
API key that drove it (synced usage per key), "disable this key" stops it at the fake Anthropic and
"enable" starts it again, OpenAI keys are deleted only with a typed confirmation, an opted-in alert
does it automatically, only admins and owners may act, and every action is audited on the
connection. One fixed clock throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack.fakes import FakeAnthropic, FakeOpenAI, serve
from devstack.fakes.anthropic import API_KEYS as ANTHROPIC_KEYS
from devstack.fakes.openai import API_KEYS as OPENAI_KEYS
from devstack.fakes.openai import PROJECTS as OPENAI_PROJECTS
from devstack.fakes.testing import FakeClock
from tests.helpers import deliver_queue, purge_queue

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LEAKED = ANTHROPIC_KEYS[1]


@pytest.fixture(autouse=True)
def _queues(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    monkeypatch.setenv("COSTPILOT_BACKFILL_DAYS", "0")  # the first sync reads today: the history is written
    for q in ("alerts", "alert-deliveries", "sync"):
        purge_queue(q)
    yield
    for q in ("alerts", "alert-deliveries", "sync"):
        purge_queue(q)


@pytest.fixture
def anthropic(monkeypatch):
    fake = FakeAnthropic(seed=7, now=lambda: NOW, history_days=0, limited_keys={"sk-ant-admin01-limited"})
    served = serve(fake)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_ANTHROPIC", served.base_url)
    yield fake
    served.stop()


@pytest.fixture
def openai(monkeypatch):
    fake = FakeOpenAI(seed=8, now=FakeClock(NOW), history_days=0)
    served = serve(fake)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_OPENAI", served.base_url)
    yield fake
    served.stop()


def _connect(api, user, fake, key: str) -> str:
    """Connected (its key checked by the fake), with 40 quiet days of history on both keys."""
    provider = fake.provider
    from chalicelib.store import usage

    clock = getattr(fake, "_now", None)
    if isinstance(clock, FakeClock):  # the connect check reads "today" on the app's own clock (OpenAI
        clock.moment = datetime.now(UTC)  # refuses an end before the start): let the fake agree for it
    r = api.post(f"/api/workspaces/{user.workspace_id}/connections",
                 {"provider": provider, "label": f"{provider} org", "credentials": {"admin_key": key}},
                 token=user.token)
    if isinstance(clock, FakeClock):
        clock.moment = NOW
    assert r.status == 201, r.body
    purge_queue("sync")  # the connect's own sync: the leak's sync does it, on the fixed clock
    connection_id = r.json["connection_id"]
    keys = dict(zip(ANTHROPIC_KEYS, (None, None), strict=True)) if provider == "anthropic" else dict(
        zip(OPENAI_KEYS, OPENAI_PROJECTS, strict=True))
    for back in range(1, 41):
        start = datetime.combine(NOW.date() - timedelta(days=back), datetime.min.time(), tzinfo=UTC)
        day = {"workspace_id": user.workspace_id, "source": f"sync:{connection_id}", "provider": provider,
                   "bucket_start": start, "bucket_end": start + timedelta(days=1), "model": "m"}
        records = [UsageRecord(kind=RecordKind.COST, billed_cost=Decimal(5) + Decimal(back % 3) / 10,
                               line_item="tokens", **day)]
        records += [UsageRecord(kind=RecordKind.USAGE, unit_type="input_tokens", units=Decimal(1000), api_key=k,
                                project=p, estimated_cost=Decimal("2.50"), **day) for k, p in keys.items()]
        usage.replace_sync_day(user.workspace_id, connection_id, start.date().isoformat(), records)
    return connection_id


def _spike_alert(api, user, **extra) -> dict:
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts",
                 {"name": "Runaway spend", "kind": "spike", "channels": [{"type": "email"}], **extra},
                 token=user.token)
    assert r.status == 201, r.body
    return r.json


def _leak(api, user, fake, connection_id: str, api_key: str) -> dict:
    """Today's usage on one key explodes; the next sync and evaluation fire and name it."""
    from chalicelib.services import alert_eval, sync

    assert fake.leak(api_key) == api_key  # what the local stack's POST /_fake/leak does
    outcome = sync.sync_one(user.workspace_id, connection_id, now=NOW, client_options={"now": lambda: NOW})
    assert outcome.status == "synced", outcome
    [key] = alert_eval.evaluate_workspace(user.workspace_id, NOW)
    [firing] = [f for f in api.get(f"/api/workspaces/{user.workspace_id}/alerts/history", token=user.token)
                .json["firings"] if f["firing_id"] == key]
    return firing


def _audit(api, user, connection_id: str) -> list[dict]:
    r = api.get(f"/api/workspaces/{user.workspace_id}/connections/{connection_id}/key-actions", token=user.token)
    assert r.status == 200, r.body
    return r.json["key_actions"]


def _member(api, user, role: str):
    other = api.new_user(role)
    r = api.post(f"/api/workspaces/{user.workspace_id}/members", {"email": other.email, "role": role},
                 token=user.token)
    assert r.status == 201, r.body
    return other


def test_a_leaked_anthropic_key_is_disabled_from_its_firing_and_enabled_again(api, user, anthropic):
    from chalicelib.services import key_actions

    connection_id = _connect(api, user, anthropic, anthropic.admin_key)
    _spike_alert(api, user)
    firing = _leak(api, user, anthropic, connection_id, LEAKED)
    assert firing["driving_key"]["api_key_id"] == LEAKED and firing["driving_key"]["provider"] == "anthropic"
    ws = f"/api/workspaces/{user.workspace_id}"
    offer = api.get(f"{ws}/alerts/history/{firing['firing_id']}/key-action", token=user.token).json
    assert offer["available"] and offer["action"] == "disable" and offer["reversible"]
    assert offer["connection_id"] == connection_id

    # a member may look but not act; the key stays active and nothing is audited
    member = _member(api, user, "member")
    r = api.post(f"{ws}/alerts/history/{firing['firing_id']}/key-action", {}, token=member.token)
    assert r.status == 403 and r.json["error"]["code"]
    r = api.post(f"{ws}/connections/{connection_id}/key-actions", {"action": "disable", "api_key_id": LEAKED},
                 token=member.token)
    assert r.status == 403
    assert _audit(api, user, connection_id) == [] and anthropic.key_status(LEAKED) == "active"

    # an admin disables it from the firing: queued, then the sync worker calls Anthropic
    admin = _member(api, user, "admin")
    r = api.post(f"{ws}/alerts/history/{firing['firing_id']}/key-action", {}, token=admin.token)
    assert r.status == 202, r.body
    assert r.json["status"] == "pending" and r.json["actor"] == admin.email
    deliver_queue(api.client, "sync_worker", "sync")
    assert anthropic.key_status(LEAKED) == "inactive"
    assert not anthropic.grow_today(api_key=LEAKED)  # a disabled key makes no more traffic
    [done] = _audit(api, user, connection_id)
    assert (done["status"], done["action"], done["key_status"], done["firing_id"]) == (
        "done", "disable", "inactive", firing["firing_id"])
    posts = [q for q in anthropic.requests if q.method == "POST"]
    assert [q.path for q in posts] == [f"/v1/organizations/api_keys/{LEAKED}"]

    # the same message delivered again changes nothing (claimed and finished once)
    item = key_actions.KeyAction.query(user.workspace_id).next()
    assert key_actions.run(user.workspace_id, item.action_key).status == "skipped"
    assert len([q for q in anthropic.requests if q.method == "POST"]) == 1

    # the owner enables it again
    r = api.post(f"{ws}/connections/{connection_id}/key-actions", {"action": "enable", "api_key_id": LEAKED},
                 token=user.token)
    assert r.status == 202, r.body
    deliver_queue(api.client, "sync_worker", "sync")
    assert anthropic.key_status(LEAKED) == "active"
    audit = _audit(api, user, connection_id)
    assert [(a["action"], a["status"], a["actor"]) for a in audit] == [
        ("enable", "done", user.email), ("disable", "done", admin.email)]


def test_the_alert_email_offers_to_disable_the_key(api, user, anthropic):
    from chalicelib.domain.alert_messages import Notification, render_email
    from chalicelib.store.alerts import Firing

    connection_id = _connect(api, user, anthropic, anthropic.admin_key)
    _spike_alert(api, user)
    firing = _leak(api, user, anthropic, connection_id, LEAKED)
    n = Notification.from_json(Firing.get(user.workspace_id, firing["firing_id"]).message)
    email = render_email(n)
    assert f"API key that drove it: {LEAKED} (anthropic)" in email.text
    assert f"Disable this key: {n.alert_url}#key-actions-{firing['firing_id']}" in email.text
    assert "Disable this key</a>" in email.html
    assert any(c.name.startswith(LEAKED) for c in n.contributors["api_key"])


def test_an_opted_in_alert_disables_the_key_automatically_once(api, user, anthropic):
    from chalicelib.services import alert_eval

    connection_id = _connect(api, user, anthropic, anthropic.admin_key)
    _spike_alert(api, user, auto_disable_key=True)
    firing = _leak(api, user, anthropic, connection_id, LEAKED)
    [pending] = _audit(api, user, connection_id)
    assert (pending["actor"], pending["firing_id"], pending["status"]) == ("automatic", firing["firing_id"], "pending")
    deliver_queue(api.client, "sync_worker", "sync")
    assert anthropic.key_status(LEAKED) == "inactive"
    assert alert_eval.evaluate_workspace(user.workspace_id, NOW) == []  # no new firing, no new action
    assert [a["status"] for a in _audit(api, user, connection_id)] == ["done"]


def test_openai_keys_are_deleted_only_when_confirmed_and_never_automatically_without_the_second_opt_in(
        api, user, openai):
    connection_id = _connect(api, user, openai, openai.admin_key)
    _spike_alert(api, user, auto_disable_key=True)  # but not auto_delete_openai_key
    leaked = OPENAI_KEYS[1]
    firing = _leak(api, user, openai, connection_id, leaked)
    assert firing["driving_key"] == {"provider": "openai", "api_key_id": leaked, "project_id": OPENAI_PROJECTS[1],
                                     "amount": firing["driving_key"]["amount"]}
    assert _audit(api, user, connection_id) == []  # permanent: not without its own opt-in
    ws = f"/api/workspaces/{user.workspace_id}"
    offer = api.get(f"{ws}/alerts/history/{firing['firing_id']}/key-action", token=user.token).json
    assert (offer["action"], offer["reversible"], offer["confirm_required"]) == ("delete", False, True)
    path = f"{ws}/alerts/history/{firing['firing_id']}/key-action"
    for body in ({}, {"confirm": "yes"}):
        r = api.post(path, body, token=user.token)
        assert r.status == 400 and r.json["error"]["field"] == "confirm", r.body
    r = api.post(f"{ws}/connections/{connection_id}/key-actions", {"action": "disable", "api_key_id": leaked},
                 token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "action"
    assert _audit(api, user, connection_id) == [] and openai.key_status(leaked) == "active"
    r = api.post(path, {"confirm": leaked}, token=user.token)
    assert r.status == 202, r.body
    deliver_queue(api.client, "sync_worker", "sync")
    assert openai.key_status(leaked) == "deleted"
    [done] = _audit(api, user, connection_id)
    assert (done["action"], done["status"], done["key_status"], done["reversible"]) == ("delete", "done", "deleted",
                                                                                       False)
    # asked again: OpenAI no longer has it (404), recorded as a failure that says so
    r = api.post(path, {"confirm": leaked}, token=user.token)
    deliver_queue(api.client, "sync_worker", "sync")
    latest = _audit(api, user, connection_id)[0]
    assert latest["status"] == "failed" and "no such key" in latest["error"]


def test_refusals_are_recorded_and_bad_input_changes_nothing(api, user, anthropic):
    connection_id = _connect(api, user, anthropic, "sk-ant-admin01-limited")
    ws = f"/api/workspaces/{user.workspace_id}/connections/{connection_id}/key-actions"
    for body, field in (({"action": "delete", "api_key_id": LEAKED}, "action"),
                        ({"action": "disable", "api_key_id": "../../v1/x"}, "api_key_id"),
                        ({"action": "disable", "api_key_id": LEAKED, "firing_id": "al_x:d:1"}, None)):
        r = api.post(ws, body, token=user.token)
        assert r.status in (400, 404), r.body
        if field:
            assert r.json["error"]["field"] == field
    assert api.post(f"/api/workspaces/{user.workspace_id}/connections/nope/key-actions",
                    {"action": "disable", "api_key_id": LEAKED}, token=user.token).status == 404
    assert _audit(api, user, connection_id) == []
    # a key without the right to manage keys (403), then an unknown key (404): both failed, said why
    assert api.post(ws, {"action": "disable", "api_key_id": LEAKED}, token=user.token).status == 202
    deliver_queue(api.client, "sync_worker", "sync")
    [refused] = _audit(api, user, connection_id)
    assert refused["status"] == "failed" and "manage API keys" in refused["error"]
    assert anthropic.key_status(LEAKED) == "active"
