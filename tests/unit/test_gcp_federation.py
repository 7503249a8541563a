"""Google Cloud workload identity federation from an AWS role: the credential configuration is
checked (hosts pinned), the subject token is a SigV4-signed GetCallerIdentity serialized as Google
expects (the fake verifies the signature itself), the STS exchange and the impersonation follow,
and a federated connection syncs the fake BigQuery export. Fixed clocks throughout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from botocore.credentials import Credentials

from chalicelib.providers import registry
from chalicelib.providers.errors import AuthError
from chalicelib.providers.gcp import GcpBillingClient
from chalicelib.providers.gcp_auth import InvalidKey
from chalicelib.providers.gcp_federation import parse_external_account, subject_token
from devstack.fakes import FakeBigQuery
from devstack.fakes.bigquery import service_account_key_json
from devstack.fakes.google_sts import AUDIENCE, SERVICE_ACCOUNT, FakeGoogleFederation, external_account_json
from devstack.fakes.testing import FakeClock, RecordingSleep

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
ROLE = Credentials("ASIAEXAMPLEROLEKEY01", "role-secret-key/EXAMPLE+0123456789abcdef", "role-session-token")


@pytest.fixture(autouse=True)
def signing_clock(monkeypatch):
    """botocore signs at this instant (the fake checks the signature's time against its own clock)."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def federation(clock):
    return FakeGoogleFederation(aws_secrets={ROLE.access_key: ROLE.secret_key}, now=clock)


@pytest.fixture
def fake(clock, federation):
    return FakeBigQuery(seed=5, now=clock, history_days=40, federation=federation)


def make_client(fake, clock, **options):
    config = options.pop("config", external_account_json())
    return GcpBillingClient(external_account=config, project=fake.project, dataset=fake.dataset,
                            base_url="http://bigquery.test", transport=httpx.WSGITransport(app=fake),
                            sleep=RecordingSleep(), now=clock, aws_credentials=lambda: ROLE,
                            aws_region="eu-west-1", **options)


def test_a_federated_connection_syncs_the_export_to_the_cent(fake, federation, clock):
    client = make_client(fake, clock)
    client.verify()
    records = client.fetch("ws1", "conn1", NOW - timedelta(days=10), NOW)
    start = (NOW - timedelta(days=10)).date()
    assert sum((r.billed_cost for r in records), Decimal(0)) == fake.net_total(start, NOW.date() + timedelta(days=1))
    # one exchange for the whole connect + sync: the service account's token is cached for its hour
    assert len(federation.subject_requests) == 1 and len(federation.impersonations) == 1
    assert federation.impersonations[0] == {"scope": ["https://www.googleapis.com/auth/bigquery"],
                                            "lifetime": "3600s"}
    exchange = next(r for r in fake.requests if r.path == "/sts/v1/token")
    assert "Authorization" not in exchange.headers  # STS is called with no credential of ours


def test_the_subject_token_is_the_signed_request_google_expects():
    token = subject_token(parse_external_account(external_account_json()), ROLE, "eu-west-1")
    signed = json.loads(unquote(token))
    assert signed["url"] == "https://sts.eu-west-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    assert signed["method"] == "POST"
    keys = [h["key"] for h in signed["headers"]]
    assert keys == sorted(keys) == ["Authorization", "host", "x-amz-date", "x-amz-security-token",
                                    "x-goog-cloud-target-resource"]
    headers = {h["key"]: h["value"] for h in signed["headers"]}
    assert headers["host"] == "sts.eu-west-1.amazonaws.com" and headers["x-amz-date"] == "20261120T153000Z"
    assert headers["x-goog-cloud-target-resource"] == AUDIENCE and headers["x-amz-security-token"] == ROLE.token
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ROLE.access_key}/20261120/eu-west-1/"
                                               "sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token;"
                                               "x-goog-cloud-target-resource, Signature=")
    assert ROLE.secret_key not in token


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: setattr(f, "audience", AUDIENCE.replace("costpilot-aws", "other-provider")), "audience"),
    (lambda f: f.aws_secrets.update({ROLE.access_key: "rotated"}), "signature we calculated does not match"),
    (lambda f: f.aws_secrets.clear(), "security token included in the request is invalid"),
    (lambda f: setattr(f, "service_account", "someone-else@acme-billing-prod.iam.gserviceaccount.com"),
     "iam.serviceAccounts.getAccessToken"),
])
def test_refusals_are_auth_errors_with_googles_reason(fake, federation, clock, change, message):
    change(federation)
    with pytest.raises(AuthError, match=message):
        make_client(fake, clock).verify()


def test_a_signature_from_another_time_is_refused(fake, federation, clock):
    clock.advance(minutes=16)
    with pytest.raises(AuthError, match="Signature expired"):
        make_client(fake, clock).verify()


def _config(**changes):
    data = json.loads(external_account_json())
    for key, value in changes.items():
        if key == "credential_source":
            data[key].update(value)
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(("config", "field"), [
    ("not json", "not JSON"),
    (service_account_key_json(), "type"),
    (_config(audience="//iam.googleapis.com/projects/x/pools"), "audience"),
    (_config(subject_token_type="urn:ietf:params:oauth:token-type:jwt"), "subject_token_type"),
    (_config(token_url="https://attacker.example/token"), "token_url"),
    (_config(service_account_impersonation_url="https://attacker.example/v1/projects/-/serviceAccounts/"
             f"{SERVICE_ACCOUNT}:generateAccessToken"), "service_account_impersonation_url"),
    (_config(credential_source={"regional_cred_verification_url": "https://attacker.example/?Action=x"}),
     "regional_cred_verification_url"),
    (_config(credential_source={"environment_id": "azure1"}), "credential_source"),
])
def test_configurations_that_would_send_credentials_elsewhere_are_refused(config, field):
    with pytest.raises(InvalidKey, match=field):
        parse_external_account(config)


def test_a_connection_takes_a_key_or_a_federation_config_never_both(fake):
    base = {"project": fake.project, "dataset": fake.dataset}
    assert registry.check_credentials("gcp", {**base, "external_account": external_account_json()}) == frozenset(
        {"external_account", "project", "dataset"})
    assert registry.check_credentials("gcp", {**base, "service_account_key": service_account_key_json()})
    with pytest.raises(registry.InvalidCredentials, match="must be exactly"):
        registry.check_credentials("gcp", {**base, "external_account": external_account_json(),
                                           "service_account_key": service_account_key_json()})
    with pytest.raises(registry.InvalidCredentials, match="audience"):
        registry.check_credentials("gcp", {**base, "external_account": _config(audience="x")})
    assert registry.key_hint({**base, "external_account": external_account_json()}) == AUDIENCE[-4:]
    assert "role-secret" not in repr(make_client(fake, FakeClock(NOW)))


def test_the_sts_form_fields(fake, federation, clock):
    seen = []
    original = federation.route

    def spy(request):
        if request.path == "/sts/v1/token":
            seen.append({k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()})
        return original(request)

    federation.route = spy
    make_client(fake, clock).verify()
    (form,) = seen
    assert {k: v for k, v in form.items() if k != "subject_token"} == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": AUDIENCE,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request"}
