"""Google Cloud workload identity federation from the sync worker's AWS role: no key to store.

The customer creates a workload identity pool with an AWS provider that trusts CostPilot's AWS
account (and role), lets the pool impersonate a service account with BigQuery read access, and
pastes the credential configuration file (``gcloud iam workload-identity-pools create-cred-config
... --aws``) into the connection. The file holds no secret; we keep its shape checked and fixed:

1. The subject token is an AWS STS ``GetCallerIdentity`` request signed with SigV4 (botocore's
   signer, the Lambda role's credentials) for the regional endpoint named by
   ``credential_source.regional_cred_verification_url``, with the ``x-goog-cloud-target-resource``
   header (the pool provider's audience) signed too. It is serialized as Google expects: the URL-
   encoded JSON ``{"url", "method": "POST", "headers": [{"key", "value"}, ...]}``, keys sorted (as
   google-auth does). Google STS replays it to AWS to learn who we are; we never send AWS secrets.
2. ``POST https://sts.googleapis.com/v1/token`` (RFC 8693 token exchange) turns it into a federated
   access token for the audience.
3. ``POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<email>:generateAccessToken``
   with that token returns the service account's access token (BigQuery scope, one hour).

Every URL is pinned to Google's and AWS's hosts (a hostile file cannot send the signed request or
tokens elsewhere); tests and the local stack pass the fakes' URLs explicitly. botocore is imported
on first use (it is in the Lambda runtime anyway).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from chalicelib.providers.errors import AuthError, BadRequest, MalformedResponse
from chalicelib.providers.gcp_auth import MAX_KEY_CHARS, SCOPE, InvalidKey, TokenAuth
from chalicelib.providers.http import ProviderHTTP, RetryPolicy

STS_URL = "https://sts.googleapis.com/v1/token"
IAM_CREDENTIALS_URL = "https://iamcredentials.googleapis.com"
SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
VERIFICATION_URL = "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
TARGET_HEADER = "x-goog-cloud-target-resource"
LIFETIME = "3600s"
_AUDIENCE = re.compile(r"^//iam\.googleapis\.com/projects/\d{1,20}/locations/global/workloadIdentityPools/"
                       r"[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$")
_IMPERSONATION = re.compile(r"^https://iamcredentials\.googleapis\.com/v1/projects/-/serviceAccounts/"
                            r"([a-z0-9][a-z0-9._-]{0,99}@[a-z0-9.-]{1,200}):generateAccessToken$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class ExternalAccount:
    """The checked credential configuration of an AWS workload identity pool provider."""

    audience: str
    service_account: str  # the email the pool impersonates
    impersonation_path: str  # /v1/projects/-/serviceAccounts/<email>:generateAccessToken


def parse_external_account(text: str) -> ExternalAccount:
    """The configuration in ``external_account`` JSON; ``InvalidKey`` (naming fields) if it is not one."""
    if not isinstance(text, str) or len(text) > MAX_KEY_CHARS:
        raise InvalidKey(f"external_account must be the credential configuration's JSON (at most {MAX_KEY_CHARS} "
                         "characters)")
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidKey("external_account is not JSON (paste the whole credential configuration file)") from None
    if not isinstance(data, dict) or data.get("type") != "external_account":
        raise InvalidKey('external_account must be a credential configuration ("type": "external_account")')
    audience = data.get("audience")
    if not isinstance(audience, str) or not _AUDIENCE.match(audience):
        raise InvalidKey("external_account audience must be //iam.googleapis.com/projects/<number>/locations/global/"
                         "workloadIdentityPools/<pool>/providers/<provider>")
    if data.get("subject_token_type") != SUBJECT_TOKEN_TYPE:
        raise InvalidKey(f"external_account subject_token_type must be {SUBJECT_TOKEN_TYPE} (an AWS provider)")
    if data.get("token_url", STS_URL) != STS_URL:
        raise InvalidKey(f"external_account token_url must be {STS_URL}")
    impersonation = data.get("service_account_impersonation_url")
    match = _IMPERSONATION.match(impersonation) if isinstance(impersonation, str) else None
    if match is None:
        raise InvalidKey("external_account service_account_impersonation_url must be "
                         f"{IAM_CREDENTIALS_URL}/v1/projects/-/serviceAccounts/<email>:generateAccessToken")
    source = data.get("credential_source")
    if not isinstance(source, dict) or not str(source.get("environment_id", "")).startswith("aws"):
        raise InvalidKey('external_account credential_source must be an AWS source ("environment_id": "aws1")')
    if source.get("regional_cred_verification_url") != VERIFICATION_URL:
        raise InvalidKey(f"external_account credential_source.regional_cred_verification_url must be "
                         f"{VERIFICATION_URL}")
    return ExternalAccount(audience, match.group(1), urlsplit(impersonation).path)


def subject_token(account: ExternalAccount, credentials: Any, region: str) -> str:
    """The signed ``GetCallerIdentity`` request, serialized for Google STS. ``credentials`` are
    botocore credentials (access key, secret, session token)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if not _REGION.match(region or ""):
        raise ValueError("region must be an AWS region name")
    url = VERIFICATION_URL.replace("{region}", region)
    request = AWSRequest(method="POST", url=url, data=b"",
                         headers={"host": urlsplit(url).netloc, TARGET_HEADER: account.audience})
    SigV4Auth(credentials, "sts", region).add_auth(request)
    headers = {("Authorization" if k.lower() == "authorization" else k.lower()): v for k, v in request.headers.items()}
    signed = {"url": url, "method": "POST", "headers": [{"key": k, "value": headers[k]} for k in sorted(headers)]}
    return quote(json.dumps(signed, separators=(",", ":"), sort_keys=True))


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class FederatedAuth(TokenAuth):
    """The service account's access token through workload identity federation (cached an hour)."""

    def __init__(self, account: ExternalAccount, http_client: httpx.Client, *, provider: str = "gcp",
                 aws_credentials: Callable[[], Any], region: str, sts_url: str = STS_URL,
                 iam_url: str = IAM_CREDENTIALS_URL, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._account = account
        self._client = http_client
        self._provider = provider
        self._aws_credentials = aws_credentials
        self._region = region
        self._sts_url = sts_url
        self._iam_url = iam_url.rstrip("/") + account.impersonation_path
        self._policy = policy
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"FederatedAuth(service_account={self._account.service_account!r})"

    def _http(self, auth: httpx.Auth | None = None, secrets: tuple[str, ...] = ()) -> ProviderHTTP:
        return ProviderHTTP(self._provider, self._client, auth=auth, secrets=secrets, policy=self._policy,
                            sleep=self._sleep)

    def _exchange(self, now: float) -> tuple[str, int]:
        form = {"grant_type": TOKEN_EXCHANGE, "audience": self._account.audience, "scope": CLOUD_PLATFORM,
                "requested_token_type": ACCESS_TOKEN_TYPE, "subject_token_type": SUBJECT_TOKEN_TYPE,
                "subject_token": subject_token(self._account, self._aws_credentials(), self._region)}
        try:
            body = self._http().post_form(self._sts_url, form)
        except BadRequest as e:  # invalid_grant: the pool does not trust this AWS role, or the audience is wrong
            raise AuthError(e.provider, f"Google STS refused the AWS identity: {e.message}", status=e.status,
                            request_id=e.request_id) from None
        federated = body.get("access_token")
        if not isinstance(federated, str) or not federated:
            raise MalformedResponse(self._provider, "STS token response has no access_token")
        try:
            minted = self._http(_Bearer(federated), (federated,)).post_json(
                self._iam_url, {"scope": [SCOPE], "lifetime": LIFETIME})
        except BadRequest as e:
            raise AuthError(e.provider, f"impersonating {self._account.service_account} was refused: {e.message}",
                            status=e.status, request_id=e.request_id) from None
        token, expires = minted.get("accessToken"), minted.get("expireTime")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise MalformedResponse(self._provider, "generateAccessToken response has no accessToken / expireTime")
        return token, max(60, _seconds_until(expires, now))


def role_credentials() -> Any:
    """The running role's AWS credentials (a Lambda's: from its environment), frozen."""
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise AuthError("gcp", "no AWS credentials to sign the workload identity request with")
    return credentials.get_frozen_credentials()


def role_region() -> str:
    """The AWS region the worker runs in (Lambda sets ``AWS_REGION``)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _seconds_until(rfc3339: str, now: float) -> int:
    try:
        when = datetime.fromisoformat(rfc3339)
    except ValueError:
        raise MalformedResponse("gcp", "generateAccessToken expireTime is not a timestamp") from None
    if when.tzinfo is None:
        raise MalformedResponse("gcp", "generateAccessToken expireTime has no time zone")
    return int(when.timestamp() - now)
