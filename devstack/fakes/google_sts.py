"""Fake Google STS (``POST /v1/token``, RFC 8693 token exchange of a signed AWS request) and IAM
Credentials (``generateAccessToken``): workload identity federation from an AWS role.

Google STS replays the subject token (the serialized, SigV4-signed ``GetCallerIdentity`` request)
to AWS; this fake plays both parts: it checks the token's shape as Google documents it (URL-encoded
JSON ``{"url", "method", "headers": [{"key", "value"}]}``, the regional STS URL, the signed
``x-goog-cloud-target-resource`` header equal to the audience) and verifies the SigV4 signature
itself with the secret of the access key, and the signing time against its clock (15 minutes, as
AWS allows). IAM Credentials checks the federated bearer token, the service account the pool may
impersonate, the scope list and the lifetime, and mints the access token through ``mint`` (the
fake BigQuery's, so BigQuery accepts it).

Errors as Google sends them: STS ``{"error": "invalid_grant", "error_description"}`` (400), IAM
``{"error": {"code", "message", "status"}}`` (401 / 403 / 400). Mounted on the fake BigQuery under
``/sts`` and ``/iamcredentials`` (``FakeBigQuery(federation=...)``), or served alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

from werkzeug.wrappers import Request, Response

AUDIENCE = ("//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/costpilot-pool/"
            "providers/costpilot-aws")
SERVICE_ACCOUNT = "costpilot-reader@acme-billing-prod.iam.gserviceaccount.com"
SUBJECT_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
_STS_URL = re.compile(r"^https://sts\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com\?Action=GetCallerIdentity&"
                      r"Version=2011-06-15$")
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request, "
                   r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
_IAM_PATH = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$")
_MAX_SKEW = timedelta(minutes=15)


def external_account_json(audience: str = AUDIENCE, service_account: str = SERVICE_ACCOUNT) -> str:
    """The credential configuration ``gcloud iam workload-identity-pools create-cred-config --aws`` writes."""
    return json.dumps({
        "type": "external_account", "audience": audience, "subject_token_type": SUBJECT_TOKEN_TYPE,
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                                             f"{service_account}:generateAccessToken",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {
            "environment_id": "aws1",
            "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
            "regional_cred_verification_url":
                "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token",
        },
    }, indent=2)


class FakeGoogleFederation:
    def __init__(self, *, audience: str = AUDIENCE, service_account: str = SERVICE_ACCOUNT,
                 aws_secrets: dict[str, str] | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.audience = audience
        self.service_account = service_account
        self.aws_secrets = dict(aws_secrets or {"testing": "testing"})  # access key id -> secret (moto's)
        self._now = now or (lambda: datetime.now(UTC))
        self.federated: set[str] = set()
        self.subject_requests: list[dict[str, Any]] = []  # each decoded subject token, for tests
        self.impersonations: list[dict[str, Any]] = []  # each generateAccessToken body
        self.mint: Callable[[], str] = lambda: f"ya29.fake-federated-{len(self.impersonations):06d}"

    def handles(self, path: str) -> bool:
        return path == "/sts/v1/token" or path.startswith("/iamcredentials/")

    def route(self, request: Request) -> Response:
        if request.path == "/sts/v1/token" and request.method == "POST":
            return self._exchange(request)
        if request.method == "POST" and (m := _IAM_PATH.match(request.path.removeprefix("/iamcredentials"))):
            return self._generate(request, m.group(1))
        return _iam_error(404, "NOT_FOUND", f"Not found: {request.method} {request.path}")

    def __call__(self, environ: dict, start_response: Callable) -> Any:  # served alone
        return self.route(Request(environ))(environ, start_response)

    # -- STS -----------------------------------------------------------------------------------

    def _exchange(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        wanted = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                  "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                  "subject_token_type": SUBJECT_TOKEN_TYPE}
        for name, value in wanted.items():
            if form.get(name) != value:
                return _sts_error("invalid_request", f"Invalid value for \"{name}\"")
        if form.get("audience") != self.audience:
            return _sts_error("invalid_target", "The target service indicated by the \"audience\" parameters is "
                              "invalid. This might either be because the pool or provider is disabled or deleted "
                              "or because it doesn't exist.")
        if CLOUD_PLATFORM not in (form.get("scope") or "").split():
            return _sts_error("invalid_scope", "Scope must include https://www.googleapis.com/auth/cloud-platform")
        problem = self._check_subject(form.get("subject_token") or "")
        if problem:
            return _sts_error("invalid_grant", problem)
        token = f"fed.fake-{len(self.federated) + 1:06d}"
        self.federated.add(token)
        return Response(json.dumps({"access_token": token, "issued_token_type":
                                    "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer",
                                    "expires_in": 3599}), 200, content_type="application/json")

    def _check_subject(self, token: str) -> str | None:
        try:
            signed = json.loads(unquote(token))
            headers = {h["key"].lower(): h["value"] for h in signed["headers"]}
            url, method = signed["url"], signed["method"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return "The subject token is not a serialized AWS request"
        self.subject_requests.append(signed)
        if set(signed) != {"url", "method", "headers"} or [h["key"] for h in signed["headers"]] != sorted(
                h["key"] for h in signed["headers"]):
            return "The subject token has unexpected fields or unsorted headers"
        match = _STS_URL.match(url) if isinstance(url, str) else None
        if method != "POST" or match is None:
            return "The subject token must be a POST to AWS STS GetCallerIdentity"
        missing = {"host", "x-amz-date", "authorization", "x-goog-cloud-target-resource"} - set(headers)
        if missing:
            return f"The subject token lacks the headers {sorted(missing)}"
        if headers["host"] != urlsplit(url).netloc:
            return "The subject token's host header does not match its URL"
        if headers["x-goog-cloud-target-resource"] != self.audience:
            return "The subject token was signed for another audience"
        auth = _AUTH.match(headers["authorization"])
        if auth is None:
            return "The subject token's Authorization is not AWS SigV4"
        key_id, day, region, signed_headers, signature = auth.groups()
        if region != match.group(1) or not {"host", "x-amz-date", "x-goog-cloud-target-resource"} <= set(
                signed_headers.split(";")):
            return "The subject token must sign host, x-amz-date and x-goog-cloud-target-resource in its region"
        try:
            at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "The subject token's x-amz-date is not a SigV4 timestamp"
        if abs(at - self._now()) > _MAX_SKEW or at.strftime("%Y%m%d") != day:
            return "AWS: Signature expired or not yet valid"
        secret = self.aws_secrets.get(key_id)
        if secret is None:
            return "AWS: The security token included in the request is invalid"
        expected = _sigv4(secret, url, headers, signed_headers, day, region)
        if not hmac.compare_digest(expected, signature):
            return "AWS: The request signature we calculated does not match the signature you provided"
        return None

    # -- IAM Credentials -----------------------------------------------------------------------

    def _generate(self, request: Request, email: str) -> Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.federated:
            return _iam_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                              "OAuth 2 access token, login cookie or other valid authentication credential.")
        if email != self.service_account:
            return _iam_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on "
                              "resource (or it may not exist).")
        try:
            body = json.loads(request.get_data())
            scopes, lifetime = body["scope"], body.get("lifetime", "3600s")
        except (ValueError, KeyError, TypeError):
            return _iam_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        seconds = re.fullmatch(r"(\d+)s", lifetime) if isinstance(lifetime, str) else None
        if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
            return _iam_error(400, "INVALID_ARGUMENT", "Scope required.")
        if seconds is None or not 1 <= int(seconds.group(1)) <= 3600:
            return _iam_error(400, "INVALID_ARGUMENT", "The lifetime must be between 1s and 3600s.")
        self.impersonations.append(body)
        expires = self._now() + timedelta(seconds=int(seconds.group(1)))
        return Response(json.dumps({"accessToken": self.mint(), "expireTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}),
                        200, content_type="application/json")


def _sigv4(secret: str, url: str, headers: dict[str, str], signed_headers: str, day: str, region: str) -> str:
    """AWS Signature Version 4 of a bodiless POST, computed independently of botocore."""
    parts = urlsplit(url)
    query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                            for k, v in parse_qsl(parts.query, keep_blank_values=True)))
    names = signed_headers.split(";")
    canonical_headers = "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names)
    canonical = "\n".join(["POST", parts.path or "/", query, canonical_headers, signed_headers,
                           hashlib.sha256(b"").hexdigest()])
    scope = f"{day}/{region}/sts/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _sts_error(code: str, description: str) -> Response:
    return Response(json.dumps({"error": code, "error_description": description}), 400,
                    content_type="application/json")


def _iam_error(status: int, state: str, message: str) -> Response:
    return Response(json.dumps({"error": {"code": status, "message": message, "status": state}}), status,
                    content_type="application/json")
