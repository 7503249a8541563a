"""A Google Cloud connection end to end: the connect route checks the key's shape and dry-runs the
query, the key is sealed, and the SQS sync worker stores the billing export's daily cost; the fake
BigQuery and its token endpoint run on loopback."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from devstack.fakes import FakeBigQuery, serve
from devstack.fakes.bigquery import service_account_key_json
from tests.helpers import deliver_queue, purge_queue


@pytest.fixture
def bigquery(monkeypatch):
    fake = FakeBigQuery(seed=4, history_days=100)
    served = serve(fake)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_GCP", served.base_url)
    purge_queue("sync")
    purge_queue("alerts")
    yield fake
    served.stop()


def _connect(api, user, fake, **overrides):
    credentials = {"service_account_key": service_account_key_json(), "project": fake.project,
                   "dataset": fake.dataset, **overrides}
    return api.post(f"/api/workspaces/{user.workspace_id}/connections",
                    {"provider": "gcp", "label": "Google Cloud", "credentials": credentials}, token=user.token)


def _billed(ws):
    from chalicelib.domain.usage import RecordKind
    from chalicelib.store import usage

    rows = usage.stored_rollups(ws, "p")
    return sum((v.billed for k, v in rows.items() if k.kind is RecordKind.COST and k.provider == "gcp"), Decimal(0))


def test_connect_dry_runs_and_never_returns_the_key(api, user, bigquery, caplog):
    caplog.set_level(logging.DEBUG)
    r = _connect(api, user, bigquery)
    assert r.status == 201, r.body
    assert r.json["provider"] == "gcp" and r.json["key_hint"] == "3d2e" and r.json["status"] == "active"
    assert [q["dryRun"] for q in bigquery.queries] == [True] and not bigquery.jobs
    pem_line = json.loads(service_account_key_json())["private_key"].splitlines()[1]
    listed = api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token)
    assert pem_line not in listed.text and pem_line not in r.text and pem_line not in caplog.text


@pytest.mark.parametrize(("overrides", "message"), [
    ({"service_account_key": "{\"type\": \"service_account\"}"}, "client_email"),
    ({"project": "Not A Project"}, "project"),
    ({"dataset": "x.y"}, "dataset"),
])
def test_bad_credential_shapes_are_400_before_any_call(api, user, bigquery, overrides, message):
    r = _connect(api, user, bigquery, **overrides)
    assert r.status == 400 and r.json["error"]["field"] == "credentials" and message in r.json["error"]["message"]
    assert not bigquery.requests
    assert api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token).json["connections"] == []


def test_a_missing_dataset_or_permission_is_refused_with_googles_reason(api, user, bigquery):
    r = _connect(api, user, bigquery, dataset="billing_exprot")
    assert r.status == 400 and "billing_exprot not found" in r.json["error"]["message"]
    bigquery.deny("bigquery.jobs.create")
    r = _connect(api, user, bigquery)
    assert r.status == 400 and "bigquery.jobs.create" in r.json["error"]["message"]


def test_sync_stores_the_exports_net_cost_and_a_lost_permission_stops_it(api, user, bigquery):
    cid = _connect(api, user, bigquery).json["connection_id"]
    deliver_queue(api.client, "sync_worker", "sync")
    today = datetime.now(UTC).date()
    expected = bigquery.net_total(today - timedelta(days=90), today + timedelta(days=1))
    assert expected > 0 and _billed(user.workspace_id) == expected
    _focus_rows_name_each_service(api, user, bigquery, today)
    bigquery.deny("bigquery.jobs.create")
    api.post(f"/api/workspaces/{user.workspace_id}/connections/{cid}/sync", token=user.token)
    deliver_queue(api.client, "sync_worker", "sync")
    c = api.get(f"/api/workspaces/{user.workspace_id}/connections/{cid}", token=user.token).json
    assert c["status"] == "error" and "bigquery.jobs.create" in c["last_error"]
    assert _billed(user.workspace_id) == expected


def _focus_rows_name_each_service(api, user, fake, today):
    start = today - timedelta(days=29)  # the Free plan's history
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={start}&to={today}&format=focus", token=user.token)
    assert r.status == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sum(Decimal(row["BilledCost"]) for row in rows) == fake.net_total(start, today + timedelta(days=1))
    services = {row["ServiceName"]: row for row in rows}
    assert {"Compute Engine", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"} <= set(services)
    assert services["gemini-2.5-flash"]["ServiceCategory"] == "AI and Machine Learning"
    assert services["Compute Engine"]["ServiceCategory"] == "Compute"
    assert {row["ProviderName"] for row in rows} == {"Google Cloud"}
    assert {row["x_CostBasis"] for row in rows} == {"bill"}
