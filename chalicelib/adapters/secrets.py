"""The stage's secrets (token signing key, Stripe keys) by name, through Powertools Parameters.

Deployed: SSM Parameter Store ``/costpilot/<stage>/<name>`` (SecureString, decrypted), cached
in the process for ``MAX_AGE_SECONDS`` by Powertools and fetched again after that, so a rotated
secret reaches every warm container within minutes without a deploy. On the local stack and in
tests the environment names it instead (``COSTPILOT_SECRET_<NAME>``, read on every call), so
neither needs SSM.

Powertools Parameters imports boto3 at its top: it is imported on first use, off the API's cold
start. It talks to SSM through the app's own cached client (``chalicelib.aws``).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from chalicelib import aws, config

MAX_AGE_SECONDS = 300


def env_name(name: str) -> str:
    return "COSTPILOT_SECRET_" + name.upper().replace("-", "_")


def parameter_name(name: str) -> str:
    return f"/costpilot/{config.stage()}/{name}"


@cache
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=aws.client("ssm"))


def get(name: str) -> str:
    """The secret ``name`` (e.g. ``stripe-secret-key``). Raises if SSM has no such parameter."""
    if (value := os.environ.get(env_name(name))) is not None:
        return value
    return str(_provider().get(parameter_name(name), max_age=MAX_AGE_SECONDS, decrypt=True))


def reset() -> None:
    """Forgets the provider and its cache (tests switch emulations, as ``aws.reset`` does)."""
    _provider.cache_clear()
