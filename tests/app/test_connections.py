"""Connections and sync end to end inside the app: HTTP routes, KMS-sealed keys, the SQS worker,
moto DynamoDB, and fake provider APIs on loopback speaking the real wire formats."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from devstack.fakes import FakeAnthropic, FakeOpenAI, serve
from tests.helpers import deliver_queue, purge_queue


@pytest.fixture
def fakes(monkeypatch):
    # 40 days: two pages of the providers' 31-day buckets
    openai, anthropic = FakeOpenAI(seed=1, history_days=40), FakeAnthropic(seed=2, history_days=40)
    # the backfill reaches past the fakes' whole ledger, so what is stored is the ledger's total at any
    # instant (a window cut at "N days ago" would move if UTC midnight passed between sync and check)
    monkeypatch.setenv("COSTPILOT_BACKFILL_DAYS", "50")
    served = [serve(openai), serve(anthropic)]
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_OPENAI", served[0].base_url)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_ANTHROPIC", served[1].base_url)
    purge_queue("sync")
    purge_queue("alerts")
    yield openai, anthropic
    for s in served:
        s.stop()


def _connect(api, user, provider, key, label="main"):
    return api.post(f"/api/workspaces/{user.workspace_id}/connections",
                    {"provider": provider, "label": label, "credentials": {"admin_key": key}}, token=user.token)


def _sync(api):
    return deliver_queue(api.client, "sync_worker", "sync")


def _billed(ws, provider=None):
    from chalicelib.domain.usage import RecordKind
    from chalicelib.store import usage

    rows = usage.stored_rollups(ws, "p")
    return sum((v.billed for k, v in rows.items() if k.kind is RecordKind.COST and provider in (None, k.provider)),
               Decimal(0))


def test_connect_checks_the_key_and_never_returns_it(api, user, fakes, caplog):
    openai, _ = fakes
    caplog.set_level(logging.DEBUG)
    r = _connect(api, user, "openai", openai.admin_key)
    assert r.status == 201, r.body
    assert r.json["key_hint"] == openai.admin_key[-4:] and r.json["status"] == "active"
    listed = api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token)
    assert openai.admin_key not in listed.text and openai.admin_key not in r.text
    bad = _connect(api, user, "openai", "sk-admin-wrong-key-1234")
    assert bad.status == 400 and bad.json["error"]["field"] == "credentials"
    assert "openai rejected the key" in bad.json["error"]["message"]
    assert "sk-admin-wrong-key-1234" not in bad.text
    assert openai.admin_key not in caplog.text and "sk-admin-wrong-key-1234" not in caplog.text


def test_sync_now_stores_exactly_what_the_provider_billed(api, user, fakes):
    openai, anthropic = fakes
    oid = _connect(api, user, "openai", openai.admin_key).json["connection_id"]
    assert _connect(api, user, "anthropic", anthropic.admin_key).status == 201
    _sync(api)
    assert _billed(user.workspace_id, "openai") == openai.billed_total()
    assert _billed(user.workspace_id, "anthropic") == anthropic.billed_total()
    c = api.get(f"/api/workspaces/{user.workspace_id}/connections/{oid}", token=user.token).json
    assert c["last_success_at"] and c["last_error"] is None and c["synced_through"]
    assert c["next_sync_at"] > c["last_success_at"]  # the next scheduled run, ISO 8601 UTC like the others

    # syncing the same window again (three times) changes nothing
    before = _billed(user.workspace_id)
    for _ in range(3):
        assert api.post(f"/api/workspaces/{user.workspace_id}/connections/{oid}/sync", token=user.token).status == 202
        _sync(api)
    assert _billed(user.workspace_id) == before


def test_restated_and_growing_buckets_replace_never_add(api, user, fakes):
    openai, _ = fakes
    oid = _connect(api, user, "openai", openai.admin_key).json["connection_id"]
    _sync(api)
    yesterday = openai.today() - timedelta(days=1)
    if not openai.cost_rows(yesterday):
        openai.grow_today()  # make sure yesterday-or-today has something to restate
    day = yesterday if openai.cost_rows(yesterday) else openai.today()
    openai.restate(day, Decimal("123.456789"))
    openai.grow_today(input_tokens=5_000_000)
    api.post(f"/api/workspaces/{user.workspace_id}/connections/{oid}/sync", token=user.token)
    _sync(api)
    assert _billed(user.workspace_id, "openai") == openai.billed_total()


def test_rejected_key_marks_the_connection_and_stops_retrying(api, user, fakes):
    openai, _ = fakes
    oid = _connect(api, user, "openai", openai.admin_key).json["connection_id"]
    openai.reject_key()
    payloads = _sync(api)
    assert payloads[-1] == {"batchItemFailures": []}  # no point retrying a revoked key
    c = api.get(f"/api/workspaces/{user.workspace_id}/connections/{oid}", token=user.token).json
    assert c["status"] == "error" and "rejected the key" in c["last_error"]
    assert c["failing_since"] and c["next_sync_at"] is None  # since when; no run is scheduled for it
    r = api.post(f"/api/workspaces/{user.workspace_id}/connections/{oid}/sync", token=user.token)
    assert r.status == 400
    openai.accept_key()
    r = api.patch(f"/api/workspaces/{user.workspace_id}/connections/{oid}",
                  {"credentials": {"admin_key": openai.admin_key}}, token=user.token)
    assert r.status == 200 and r.json["status"] == "active" and r.json["last_error"] is None
    assert r.json["failing_since"] is None


def test_a_rejected_key_fires_a_connection_alert_at_once(api, user, fakes, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")  # deliverable at once: no race with a delay
    openai, _ = fakes
    _connect(api, user, "openai", openai.admin_key)
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", {
        "name": "Sync health", "kind": "connection", "failing_minutes": 60, "channels": [{"type": "email"}]},
        token=user.token)
    assert r.status == 201, r.body
    openai.reject_key()
    _sync(api)
    assert deliver_queue(api.client, "alert_evaluator", "alerts")
    firings = api.get(f"/api/workspaces/{user.workspace_id}/alerts/history", token=user.token).json["firings"]
    assert len(firings) == 1 and "rejected" in str(firings[0]).lower(), firings


def test_provider_outage_fails_the_message_for_retry_and_writes_nothing(api, user, fakes):
    openai, _ = fakes
    oid = _connect(api, user, "openai", openai.admin_key).json["connection_id"]
    openai.fail_next(500, times=50)
    payloads = _sync(api)
    assert payloads[0]["batchItemFailures"], payloads
    assert _billed(user.workspace_id) == 0
    c = api.get(f"/api/workspaces/{user.workspace_id}/connections/{oid}", token=user.token).json
    assert c["status"] == "active" and c["last_error"] and c["synced_through"] is None


def test_malformed_payload_writes_nothing(api, user, fakes):
    openai, _ = fakes
    _connect(api, user, "openai", openai.admin_key)
    openai.malformed_next(times=3)
    _sync(api)
    assert _billed(user.workspace_id) == 0


def test_ciphertext_moved_to_another_row_does_not_decrypt(api, user, fakes):
    from chalicelib.adapters import kms_secrets
    from chalicelib.store.connections import Connection

    openai, anthropic = fakes
    a = _connect(api, user, "openai", openai.admin_key).json["connection_id"]
    b = _connect(api, user, "anthropic", anthropic.admin_key).json["connection_id"]
    ca = Connection.get(user.workspace_id, a)
    assert kms_secrets.open_secret(ca.credentials, user.workspace_id, a, "openai") == {"admin_key": openai.admin_key}
    assert openai.admin_key.encode() not in ca.credentials
    for ws, conn, provider in ((user.workspace_id, b, "anthropic"), ("ws_other", a, "openai"),
                               (user.workspace_id, b, "openai")):
        with pytest.raises(kms_secrets.SecretUnreadable) as e:
            kms_secrets.open_secret(ca.credentials, ws, conn, provider)
        assert openai.admin_key not in str(e.value)


def test_scheduler_enqueues_each_due_connection_once(api, user, fakes):
    from chalicelib.services import sync

    openai, _ = fakes
    _connect(api, user, "openai", openai.admin_key)
    purge_queue("sync")
    later = time.time() + 3 * 3600
    first = sync.enqueue_due(now=later)
    assert first >= 1
    assert sync.enqueue_due(now=later) == 0  # an overlapping run finds nothing due
    from devstack.runner import _schedule_event

    payload = api.client.lambda_.invoke("scheduler", _schedule_event("scheduler")).payload
    assert payload == {"enqueued": 0}


def test_plan_limits_connections(api, user, fakes):
    openai, anthropic = fakes
    assert _connect(api, user, "openai", openai.admin_key, "one").status == 201
    assert _connect(api, user, "anthropic", anthropic.admin_key, "two").status == 201
    r = _connect(api, user, "openai", openai.admin_key, "three")
    assert r.status == 402
    err = r.json["error"]
    assert err["code"] == "plan_limit" and err["limit"] == "connections" and err["upgrade_to"] == "pro"
