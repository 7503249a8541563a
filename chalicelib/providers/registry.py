"""Provider name -> client class and the credential fields a connection must supply.

``build_client`` is the one place a client is made from stored credentials; the local stack and
tests pass ``base_url``/``transport`` to point it at a fake. Credential values never appear in
error messages: only field names do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib import config
from chalicelib.providers.anthropic import AnthropicClient
from chalicelib.providers.aws_ce import AwsCostExplorerClient
from chalicelib.providers.base import ProviderClient
from chalicelib.providers.gcp import DATASET, PROJECT, GcpBillingClient
from chalicelib.providers.gcp_auth import InvalidKey, parse_key
from chalicelib.providers.gcp_federation import parse_external_account
from chalicelib.providers.openai import OpenAIClient
from chalicelib.providers.stripe_fees import StripeFeesClient
from chalicelib.providers.twilio import TwilioClient


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    client_class: type
    # Each alternative is a complete set of fields; exactly one must be supplied.
    credential_sets: tuple[frozenset[str], ...]
    http: bool = True  # False: not an httpx client (AWS uses boto3)
    # Checks the values' shape (raises ``InvalidCredentials`` naming the field, never the value).
    check_shape: Callable[[Mapping[str, str]], None] | None = None


def _check_gcp(credentials: Mapping[str, str]) -> None:
    if not PROJECT.match(credentials["project"].strip()):
        raise InvalidCredentials("gcp project must be the id of the project holding the billing export dataset")
    if not DATASET.match(credentials["dataset"].strip()):
        raise InvalidCredentials("gcp dataset must be a BigQuery dataset id (letters, digits, underscores)")
    try:
        if "external_account" in credentials:
            parse_external_account(credentials["external_account"].strip())
        else:
            parse_key(credentials["service_account_key"].strip())
    except InvalidKey as e:
        raise InvalidCredentials(f"gcp {e}") from None


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec("openai", OpenAIClient, (frozenset({"admin_key"}),)),
        ProviderSpec("anthropic", AnthropicClient, (frozenset({"admin_key"}),)),
        ProviderSpec(
            "twilio",
            TwilioClient,
            (frozenset({"account_sid", "auth_token"}), frozenset({"account_sid", "api_key_sid", "api_key_secret"})),
        ),
        ProviderSpec("stripe", StripeFeesClient, (frozenset({"api_key"}),)),
        ProviderSpec(
            "aws",
            AwsCostExplorerClient,
            (frozenset({"access_key_id", "secret_access_key"}), frozenset({"role_arn", "external_id"})),
            http=False,
        ),
        ProviderSpec("gcp", GcpBillingClient, (frozenset({"service_account_key", "project", "dataset"}),
                                               frozenset({"external_account", "project", "dataset"})),
                     check_shape=_check_gcp),  # a key, or workload identity federation: never both
    )
}

# The field whose last characters identify a credential to its owner, most specific first.
_HINT_FIELDS = ("admin_key", "api_key", "api_key_secret", "auth_token", "secret_access_key", "role_arn")


class UnknownProvider(ValueError):
    pass


class InvalidCredentials(ValueError):
    """The credential fields do not match any accepted set (the message names fields, never values)."""


def spec_for(provider: str) -> ProviderSpec:
    try:
        return PROVIDERS[provider]
    except KeyError:
        raise UnknownProvider(f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}") from None


def check_credentials(provider: str, credentials: Mapping[str, str]) -> frozenset[str]:
    """The accepted field set ``credentials`` matches; raises ``InvalidCredentials`` otherwise."""
    spec = spec_for(provider)
    given = frozenset(k for k, v in credentials.items() if isinstance(v, str) and v.strip())
    for fields in spec.credential_sets:
        if given == fields:
            if spec.check_shape is not None:
                spec.check_shape(credentials)
            return fields
    expected = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in spec.credential_sets)
    raise InvalidCredentials(f"{provider} credentials must be exactly {expected}; got fields {sorted(given)}")


def build_client(
    provider: str,
    credentials: Mapping[str, str],
    *,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> ProviderClient:
    """A ready client. ``options`` go to the client (``sleep``, ``now``, ``policy``, ``session_factory``...)."""
    spec = spec_for(provider)
    fields = check_credentials(provider, credentials)
    kwargs = {name: credentials[name].strip() for name in fields}
    if spec.http:
        if base_url is not None:
            options["base_url"] = base_url
        if transport is not None:
            options["transport"] = transport
    elif base_url is not None:
        options["endpoint_url"] = base_url  # AWS: an emulator's endpoint (boto3 ``endpoint_url``)
    if provider in ("openai", "anthropic"):
        return spec.client_class(kwargs.pop("admin_key"), **options)
    if provider == "stripe":
        return spec.client_class(kwargs.pop("api_key"), **options)
    return spec.client_class(**kwargs, **options)


def make_client(provider: str, credentials: Mapping[str, str], **options: Any) -> ProviderClient:
    """The client of a stored connection, pointed where the stage says the provider's API lives
    (``config.provider_base_url``: the local stack's fakes; unset in AWS)."""
    return build_client(provider, credentials, base_url=config.provider_base_url(provider), **options)


def key_hint(credentials: Mapping[str, str]) -> str:
    """The last 4 characters of the main secret, for showing which key is connected."""
    if isinstance(key_json := credentials.get("service_account_key"), str):
        try:  # the key id, as the Google Cloud console lists it
            return parse_key(key_json.strip()).private_key_id[-4:]
        except InvalidKey:
            return ""
    if isinstance(config := credentials.get("external_account"), str):
        try:  # the end of the pool provider's name (the file holds no secret)
            return parse_external_account(config.strip()).audience[-4:]
        except InvalidKey:
            return ""
    for name in _HINT_FIELDS:
        value = credentials.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[-4:]
    return ""
