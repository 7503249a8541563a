"""adapters.secrets: the environment on the local stack and in tests; SSM (decrypted, cached by
Powertools Parameters) when deployed."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.adapters import secrets


@pytest.fixture
def ssm(aws, monkeypatch):
    monkeypatch.delenv("COSTPILOT_SECRET_STRIPE_SECRET_KEY")
    secrets.reset()
    client = boto3.client("ssm", region_name="us-east-1")
    yield client
    secrets.reset()
    client.delete_parameters(Names=["/costpilot/test/stripe-secret-key"])


def test_the_environment_names_a_secret_on_the_local_stack(monkeypatch):
    monkeypatch.setenv("COSTPILOT_SECRET_SOME_KEY", "from-env")
    assert secrets.get("some-key") == "from-env"


def test_deployed_a_secret_is_read_from_ssm_decrypted_and_cached(ssm):
    ssm.put_parameter(Name="/costpilot/test/stripe-secret-key", Value="sk_live_one", Type="SecureString")
    assert secrets.get("stripe-secret-key") == "sk_live_one"
    ssm.put_parameter(Name="/costpilot/test/stripe-secret-key", Value="sk_live_two", Type="SecureString",
                      Overwrite=True)
    assert secrets.get("stripe-secret-key") == "sk_live_one"  # cached for MAX_AGE_SECONDS
    secrets.reset()
    assert secrets.get("stripe-secret-key") == "sk_live_two"


def test_a_missing_secret_raises(ssm):
    with pytest.raises(Exception, match="stripe-secret-key"):
        secrets.get("stripe-secret-key")
