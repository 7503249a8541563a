"""AwsCostExplorerClient with real botocore clients under Stubber, and the devstack fake CE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from chalicelib.domain.usage import RecordKind
from chalicelib.providers.aws_ce import AwsCostExplorerClient
from chalicelib.providers.errors import (
    AuthError,
    BadRequest,
    MalformedResponse,
    RateLimited,
)
from chalicelib.providers.http import RetryPolicy
from devstack.fakes.cost_explorer import FakeCostExplorer
from devstack.fakes.testing import FakeClock, RecordingSleep

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2025, 9, 2, 15, 30, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REQUEST = {
    "TimePeriod": {"Start": "2025-09-01", "End": "2025-09-03"},
    "Granularity": "DAILY",
    "Metrics": ["UnblendedCost"],
    "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
}


class StubSessions:
    """A boto3 session factory handing out real botocore clients wrapped in Stubbers."""

    def __init__(self):
        session = botocore.session.get_session()
        creds = {"aws_access_key_id": "AKIAFAKE", "aws_secret_access_key": "fake"}
        self.ce = session.create_client("ce", region_name="us-east-1", **creds)
        self.sts = session.create_client("sts", region_name="us-east-1", **creds)
        self.ce_stub, self.sts_stub = Stubber(self.ce), Stubber(self.sts)
        self.ce_stub.activate()
        self.sts_stub.activate()
        self.sessions: list[dict] = []

    def __call__(self, **kwargs):
        self.sessions.append(kwargs)
        clients = {"ce": self.ce, "sts": self.sts}

        class Session:
            def client(self, name, region_name=None):
                assert region_name == "us-east-1"
                return clients[name]

        return Session()


def fixture():
    return json.loads((FIXTURES / "aws_ce_get_cost_and_usage.json").read_text())


def make_client(stubs, sleep=None, **kwargs):
    kwargs.setdefault("access_key_id", "AKIAIOSFODNN7EXAMPLE")
    kwargs.setdefault("secret_access_key", SECRET)
    return AwsCostExplorerClient(session_factory=stubs, sleep=sleep or RecordingSleep(), now=lambda: NOW, **kwargs)


def fetch(client):
    return client.fetch("ws1", "conn1", datetime(2025, 9, 1, 8, tzinfo=UTC), NOW + timedelta(days=3))


def second_page():
    return {
        "ResultsByTime": [{
            "TimePeriod": {"Start": "2025-09-02", "End": "2025-09-03"},
            "Total": {},
            "Groups": [{"Keys": ["AWS Lambda"], "Metrics": {"UnblendedCost": {"Amount": "0.12", "Unit": "USD"}}}],
            "Estimated": True,
        }],
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }


def test_pages_are_followed_and_amounts_exact():
    stubs = StubSessions()
    stubs.ce_stub.add_response("get_cost_and_usage", {**fixture(), "NextPageToken": "tok-1"}, REQUEST)
    stubs.ce_stub.add_response("get_cost_and_usage", second_page(), {**REQUEST, "NextPageToken": "tok-1"})
    records = fetch(make_client(stubs))
    stubs.ce_stub.assert_no_pending_responses()
    by_service = {(r.day, r.model): r.billed_cost for r in records}
    assert by_service == {
        ("2025-09-01", "AWS Lambda"): Decimal("0.4412907"),
        ("2025-09-01", "Amazon DynamoDB"): Decimal("1.2038114"),
        ("2025-09-01", "Tax"): Decimal(0),
        ("2025-09-02", "AWS Lambda"): Decimal("0.12"),
    }
    assert all(r.kind is RecordKind.COST and r.currency == "USD" and r.source == "sync:conn1" for r in records)
    assert records[0].metadata["estimated"] == "true"
    assert stubs.sessions == [{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}]


def test_three_fetches_identical_and_a_restatement_replaces():
    stubs = StubSessions()
    for _ in range(3):
        stubs.ce_stub.add_response("get_cost_and_usage", fixture(), REQUEST)
    restated = fixture()
    restated["ResultsByTime"][0]["Groups"][0]["Metrics"]["UnblendedCost"]["Amount"] = "0.5000001"
    stubs.ce_stub.add_response("get_cost_and_usage", restated, REQUEST)
    client = make_client(stubs)
    runs = [{r.record_key(): r for r in fetch(client)} for _ in range(4)]
    assert runs[0] == runs[1] == runs[2]
    assert runs[3].keys() == runs[0].keys()
    assert [r.billed_cost for k, r in runs[3].items() if r != runs[0][k]] == [Decimal("0.5000001")]


def test_role_is_assumed_with_the_external_id():
    stubs = StubSessions()
    role = "arn:aws:iam::123456789012:role/CostPilotRead"
    stubs.sts_stub.add_response(
        "assume_role",
        {"Credentials": {"AccessKeyId": "ASIATEMPEXAMPLE12345", "SecretAccessKey": "tempsecret", "SessionToken": "tok",
                         "Expiration": datetime(2025, 9, 2, 16, tzinfo=UTC)}},
        {"RoleArn": role, "RoleSessionName": "costpilot-sync", "ExternalId": "cp-ext-42"},
    )
    stubs.ce_stub.add_response("get_cost_and_usage", fixture(), REQUEST)
    client = AwsCostExplorerClient(role_arn=role, external_id="cp-ext-42", session_factory=stubs, now=lambda: NOW)
    assert len(fetch(client)) == 3
    assert stubs.sessions[-1] == {"aws_access_key_id": "ASIATEMPEXAMPLE12345", "aws_secret_access_key": "tempsecret",
                                  "aws_session_token": "tok"}


def test_access_denied_is_an_auth_error_without_the_secret():
    stubs = StubSessions()
    stubs.ce_stub.add_client_error(
        "get_cost_and_usage", "AccessDeniedException",
        f"User: arn:aws:iam::123456789012:user/x is not authorized to perform: ce:GetCostAndUsage ({SECRET})", 400,
    )
    sleep = RecordingSleep()
    with pytest.raises(AuthError) as info:
        make_client(stubs, sleep).verify()
    assert "not authorized to perform: ce:GetCostAndUsage" in str(info.value)
    assert SECRET not in str(info.value) + repr(info.value)
    assert sleep.calls == []


def test_throttling_is_retried_then_rate_limited():
    stubs = StubSessions()
    stubs.ce_stub.add_client_error("get_cost_and_usage", "LimitExceededException", "Rate exceeded", 400)
    stubs.ce_stub.add_response("get_cost_and_usage", fixture(), REQUEST)
    sleep = RecordingSleep()
    assert len(fetch(make_client(stubs, sleep))) == 3
    assert len(sleep.calls) == 1
    for _ in range(2):
        stubs.ce_stub.add_client_error("get_cost_and_usage", "LimitExceededException", "Rate exceeded", 400)
    with pytest.raises(RateLimited):
        fetch(make_client(stubs, sleep, policy=RetryPolicy(max_attempts=2)))


def test_data_unavailable_is_a_bad_request():
    stubs = StubSessions()
    stubs.ce_stub.add_client_error("get_cost_and_usage", "DataUnavailableException", "Data is not available", 400)
    with pytest.raises(BadRequest):
        fetch(make_client(stubs))


def test_non_numeric_amount_is_malformed():
    stubs = StubSessions()
    bad = fixture()
    bad["ResultsByTime"][0]["Groups"][1]["Metrics"]["UnblendedCost"]["Amount"] = "n/a"
    stubs.ce_stub.add_response("get_cost_and_usage", bad, REQUEST)
    with pytest.raises(MalformedResponse):
        fetch(make_client(stubs))


def test_devstack_fake_cost_explorer_totals_match():
    clock = FakeClock(NOW)
    fake = FakeCostExplorer(seed=2, now=clock, history_days=30, page_days=7)
    client = AwsCostExplorerClient(access_key_id="AKIA", secret_access_key="s", session_factory=fake.session_factory,
                                   now=clock, sleep=RecordingSleep())
    records = client.fetch("ws1", "conn1", NOW - timedelta(days=60), NOW)
    assert sum((r.billed_cost for r in records), Decimal(0)) == fake.billed_total()
    assert len(fake.calls) == 9 and fake.calls[0]["TimePeriod"]["End"] == "2025-09-03"
