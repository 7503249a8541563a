"""The provider registry, the retry decision and the error tree."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from chalicelib.providers import registry
from chalicelib.providers.anthropic import AnthropicClient
from chalicelib.providers.aws_ce import AwsCostExplorerClient
from chalicelib.providers.errors import AuthError, RateLimited, TransientError
from chalicelib.providers.http import ProviderHTTP, RetryPolicy, parse_retry_after
from chalicelib.providers.openai import OpenAIClient
from chalicelib.providers.stripe_fees import StripeFeesClient
from chalicelib.providers.twilio import TwilioClient
from devstack.fakes import FakeOpenAI, FakeTwilio
from devstack.fakes.testing import FakeClock, RecordingSleep
from devstack.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

NOW = datetime(2025, 9, 10, 12, tzinfo=UTC)


def test_build_client_for_each_provider():
    sid = "AC" + "0" * 32
    assert isinstance(registry.build_client("openai", {"admin_key": "sk-admin-1"}), OpenAIClient)
    assert isinstance(registry.build_client("anthropic", {"admin_key": "sk-ant-admin01-1"}), AnthropicClient)
    assert isinstance(registry.build_client("twilio", {"account_sid": sid, "auth_token": "t"}), TwilioClient)
    assert isinstance(
        registry.build_client("twilio", {"account_sid": sid, "api_key_sid": "SK1", "api_key_secret": "s"}), TwilioClient
    )
    assert isinstance(registry.build_client("stripe", {"api_key": "rk_live_1"}), StripeFeesClient)
    assert isinstance(registry.build_client("aws", {"access_key_id": "AK", "secret_access_key": "s"}),
                      AwsCostExplorerClient)
    assert isinstance(registry.build_client("aws", {"role_arn": "arn:aws:iam::1:role/r", "external_id": "e"}),
                      AwsCostExplorerClient)


def test_build_client_points_at_a_fake():
    clock = FakeClock(NOW)
    fake = FakeTwilio(seed=1, now=clock, history_days=5)
    client = registry.build_client(
        "twilio", {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
        base_url="http://fake.twilio", transport=httpx.WSGITransport(app=fake), now=clock,
    )
    client.verify()
    assert fake.requests[0].path.startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/")


def test_wrong_credential_fields_are_refused_without_values():
    with pytest.raises(registry.InvalidCredentials) as info:
        registry.build_client("twilio", {"account_sid": "AC1", "password": "hunter2secret"})
    assert "hunter2secret" not in str(info.value) and "auth_token" in str(info.value)
    with pytest.raises(registry.UnknownProvider):
        registry.build_client("azure", {})
    with pytest.raises(registry.InvalidCredentials, match="service_account_key"):
        registry.build_client("gcp", {})
    assert registry.check_credentials("aws", {"role_arn": "arn", "external_id": "x"}) == {"role_arn", "external_id"}


def test_key_hint_is_the_last_four_of_the_main_secret():
    assert registry.key_hint({"admin_key": "sk-admin-abcdWXYZ"}) == "WXYZ"
    assert registry.key_hint({"account_sid": "AC123", "auth_token": "tok9876"}) == "9876"
    assert registry.key_hint({"account_sid": "AC1", "api_key_sid": "SK1", "api_key_secret": "sec4321"}) == "4321"
    assert registry.key_hint({"access_key_id": "AKIA", "secret_access_key": "abc/defG"}) == "defG"


def test_retry_policy_backoff_is_capped_and_jittered():
    policy = RetryPolicy(max_attempts=6, initial_delay=0.5, max_delay=4.0)
    for attempt in range(1, 6):
        low, high = policy.sleep_seconds(attempt, rand=lambda: 0.0), policy.sleep_seconds(attempt, rand=lambda: 1.0)
        assert 0.5 <= low <= high <= 4.0
    assert policy.sleep_seconds(5, rand=lambda: 1.0) == 4.0
    assert policy.sleep_seconds(1, retry_after=30) == 30
    assert RetryPolicy(max_retry_after=10).sleep_seconds(1, retry_after=3600) == 10
    assert parse_retry_after("7") == 7.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert not policy.should_retry(6, TransientError("x", "m"))
    assert not policy.should_retry(1, AuthError("x", "m"))
    assert policy.should_retry(1, RateLimited("x", "m"))
    assert not policy.should_retry(1, TransientError("x", "m"), {"stripe-should-retry": "false"})


def test_timeouts_and_connection_errors_are_retried_then_transient():
    attempts = []

    def handler(request):
        attempts.append(request)
        raise httpx.ConnectTimeout("timed out", request=request)

    sleep = RecordingSleep()
    http = ProviderHTTP("openai", httpx.Client(base_url="https://x", transport=httpx.MockTransport(handler)),
                        policy=RetryPolicy(max_attempts=3), sleep=sleep)
    with pytest.raises(TransientError) as info:
        http.get_json("/v1/x")
    assert len(attempts) == 3 and len(sleep.calls) == 2 and "timeout" in str(info.value)


def test_clients_use_explicit_timeouts():
    client = OpenAIClient("sk-admin-x")
    timeout = client._http._client.timeout
    assert timeout.connect == 5.0 and timeout.read == 30.0


def test_a_fake_served_on_a_port_with_the_registry():
    from devstack.fakes import serve

    clock = FakeClock(NOW)
    fake = FakeOpenAI(seed=2, now=clock, history_days=3)
    with serve(fake) as served:
        assert served.base_url.startswith("http://127.0.0.1:")
        client = registry.build_client("openai", {"admin_key": fake.admin_key}, base_url=served.base_url, now=clock)
        client.verify()
