"""Shared fixtures. The environment is set before the app is imported: table names and the token
secret are read from it, and moto must be active before any AWS client exists."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.update(
    {
        "COSTPILOT_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "COSTPILOT_SECRET_TOKEN_SIGNING_KEY": "test-signing-key-0123456789abcdef0123456789",
        # argon2id stays memory-hard in tests, just cheaper, so the suite stays fast.
        "COSTPILOT_ARGON2_TIME_COST": "1",
        "COSTPILOT_ARGON2_MEMORY_KIB": "1024",
        # Stripe: the fake's keys and prices (tests/app/test_billing.py serves the fake and sets its base).
        "COSTPILOT_SECRET_STRIPE_SECRET_KEY": "sk_test_costpilot_tests",
        "COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET": "whsec_costpilot_tests",
        "COSTPILOT_STRIPE_PRICE_PRO": "price_test_pro",
        "COSTPILOT_STRIPE_PRICE_TEAM": "price_test_team",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

import pytest  # noqa: E402

#: A folder for the whole test run, shared by its xdist workers (they inherit the controller's
#: environment): what each worker would otherwise build for itself, such as the seeded demo.
RUN_DIR = "COSTPILOT_TEST_RUN_DIR"
_OWN_RUN_DIR = pytest.StashKey[str]()  # set in the process that made the folder (the xdist controller)


def pytest_configure(config):
    if RUN_DIR not in os.environ:
        os.environ[RUN_DIR] = tempfile.mkdtemp(prefix="costpilot-test-run-")
        config.stash[_OWN_RUN_DIR] = os.environ[RUN_DIR]


def pytest_unconfigure(config):
    if config.stash.get(_OWN_RUN_DIR, None):
        shutil.rmtree(config.stash[_OWN_RUN_DIR], ignore_errors=True)
        os.environ.pop(RUN_DIR, None)


@pytest.fixture(scope="session")
def aws():
    """moto for the whole session (per xdist worker), with the infra/ resources provisioned."""
    import boto3
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from devstack import moto_fixes
    from devstack.provision import provision

    moto_fixes.install()
    with mock_aws():
        aws_clients.reset()
        resources = provision(boto3.session.Session(region_name="us-east-1"), {"Stage": "test"})
        yield resources
        aws_clients.reset()


@pytest.fixture(scope="session")
def app(aws):
    import app as app_module

    return app_module.app


@pytest.fixture(scope="session")
def api(app):
    from chalice.test import Client

    from devstack import local_gateway
    from tests.helpers import Api

    local_gateway.install()

    with Client(app, stage_name="test", project_dir=str(ROOT)) as client:
        yield Api(client)


@pytest.fixture
def user(api):
    """A fresh signed-up and logged-in user with their first workspace."""
    return api.new_user()
