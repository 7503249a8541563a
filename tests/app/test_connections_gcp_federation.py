"""A Google Cloud connection by workload identity federation through the API: no key is stored,
the connect route validates the configuration (a key or a configuration, never both), and the SQS
sync worker signs with its own AWS role (moto's credentials here), exchanges at the fake Google
STS, impersonates through the fake IAM Credentials and stores the export's daily cost."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from devstack.fakes import FakeBigQuery, serve
from devstack.fakes.bigquery import service_account_key_json
from devstack.fakes.google_sts import FakeGoogleFederation, external_account_json
from tests.helpers import deliver_queue, purge_queue


@pytest.fixture
def google(aws, monkeypatch):
    # The pool trusts the worker's role: here moto's credentials, as the worker's botocore finds them.
    role = {os.environ["AWS_ACCESS_KEY_ID"]: os.environ["AWS_SECRET_ACCESS_KEY"]}
    federation = FakeGoogleFederation(aws_secrets=role)
    fake = FakeBigQuery(seed=6, history_days=30, federation=federation)
    served = serve(fake)
    monkeypatch.setenv("COSTPILOT_PROVIDER_URL_GCP", served.base_url)
    purge_queue("sync")
    purge_queue("alerts")
    yield fake, federation
    served.stop()


def _connect(api, user, fake, **credentials):
    body = {"provider": "gcp", "label": "Google Cloud (federated)",
            "credentials": {"project": fake.project, "dataset": fake.dataset, **credentials}}
    return api.post(f"/api/workspaces/{user.workspace_id}/connections", body, token=user.token)


def _billed(ws):
    from chalicelib.domain.usage import RecordKind
    from chalicelib.store import usage

    rows = usage.stored_rollups(ws, "p")
    return sum((v.billed for k, v in rows.items() if k.kind is RecordKind.COST and k.provider == "gcp"), Decimal(0))


def test_a_federated_connection_connects_and_syncs_without_a_stored_key(api, user, google):
    fake, federation = google
    r = _connect(api, user, fake, external_account=external_account_json())
    assert r.status == 201, r.body
    assert r.json["status"] == "active" and r.json["key_hint"] == "-aws"
    assert [q["dryRun"] for q in fake.queries] == [True]
    deliver_queue(api.client, "sync_worker", "sync")
    today = datetime.now(UTC).date()
    expected = fake.net_total(today - timedelta(days=90), today + timedelta(days=1))
    assert expected > 0 and _billed(user.workspace_id) == expected
    assert len(federation.subject_requests) == 2  # one exchange per client: the connect, then the sync
    assert all(s["url"].startswith("https://sts.us-east-1.amazonaws.com") for s in federation.subject_requests)


def test_a_key_and_a_configuration_together_or_a_bad_configuration_are_400(api, user, google):
    fake, _ = google
    both = _connect(api, user, fake, external_account=external_account_json(),
                    service_account_key=service_account_key_json())
    assert both.status == 400 and both.json["error"]["field"] == "credentials"
    assert "external_account" in both.json["error"]["message"]  # names the accepted field sets
    bad = _connect(api, user, fake, external_account=external_account_json().replace("sts.googleapis.com",
                                                                                      "sts.attacker.example"))
    assert bad.status == 400 and "token_url" in bad.json["error"]["message"]
    assert not fake.requests
    assert api.get(f"/api/workspaces/{user.workspace_id}/connections", token=user.token).json["connections"] == []


def test_a_pool_that_does_not_trust_the_role_is_refused_with_googles_reason(api, user, google):
    fake, federation = google
    federation.aws_secrets.clear()  # the pool's AWS provider names another account
    r = _connect(api, user, fake, external_account=external_account_json())
    assert r.status == 400 and "security token included in the request is invalid" in r.json["error"]["message"]
