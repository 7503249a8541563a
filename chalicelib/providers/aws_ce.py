"""AWS Cost Explorer ``GetCostAndUsage`` (DAILY UnblendedCost by SERVICE), as ``COST`` records.

Credentials are an access key pair, or a cross-account role (ARN + ExternalId) assumed through
STS. A boto3 session factory is injected so tests drive real ``botocore`` clients with
``Stubber``. ``End`` is exclusive; each page is a billed request ($0.01), so one call per page and
no speculative reads. See /work/shared/providers.md section 5.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from chalicelib.domain.usage import UsageRecord
from chalicelib.providers._parse import Reader, day_cost, merge_duplicates
from chalicelib.providers._window import DAY, day_floor, day_window
from chalicelib.providers.base import Clock, sync_source, utc_now
from chalicelib.providers.errors import (
    AuthError,
    BadRequest,
    ProviderError,
    RateLimited,
    TransientError,
    redact,
)
from chalicelib.providers.http import RetryPolicy

REGION = "us-east-1"  # Cost Explorer's single endpoint
METRIC = "UnblendedCost"
ROLE_SESSION_NAME = "costpilot-sync"
_AUTH_CODES = frozenset(
    {
        "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
        "ExpiredTokenException", "ExpiredToken", "SignatureDoesNotMatch", "InvalidSignatureException",
    }
)
_RATE_CODES = frozenset({"LimitExceededException", "ThrottlingException", "Throttling", "TooManyRequestsException"})
_TRANSIENT_CODES = frozenset(
    {"InternalFailure", "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"}
)

SessionFactory = Callable[..., Any]  # (**boto3.Session kwargs) -> boto3.Session-like


def default_session_factory(**kwargs: Any) -> Any:
    import boto3

    return boto3.Session(**kwargs)


class AwsCostExplorerClient:
    provider = "aws"

    def __init__(
        self,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        role_arn: str | None = None,
        external_id: str | None = None,
        session_factory: SessionFactory = default_session_factory,
        endpoint_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Clock = utc_now,
    ) -> None:
        if not ((access_key_id and secret_access_key) or role_arn):
            raise ValueError("AWS needs an access key pair or a role ARN")
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._role_arn = role_arn
        self._external_id = external_id
        self._session_factory = session_factory
        # only for emulators (the local stack); the real API has one global endpoint
        self._ce_options = {"region_name": REGION, **({"endpoint_url": endpoint_url} if endpoint_url else {})}
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._now = now
        self._ce: Any = None
        self._read = Reader(self.provider)

    def __repr__(self) -> str:
        return f"AwsCostExplorerClient(role_arn={self._role_arn!r}, secret=***)"

    def verify(self) -> None:
        """One ungrouped single-day query (one billed request): proves ``ce:GetCostAndUsage``."""
        today = day_floor(self._now()).date()
        self._call(
            TimePeriod={"Start": (today - DAY).isoformat(), "End": today.isoformat()},
            Granularity="DAILY",
            Metrics=[METRIC],
        )

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        source = sync_source(connection_id)
        records = [
            self._record(workspace_id, source, day, group)
            for day, group in self._groups(window[0].date(), window[1].date())
        ]
        return merge_duplicates(records)

    def _groups(self, first: date, end: date) -> Iterator[tuple[date, dict[str, Any]]]:
        r = self._read
        request: dict[str, Any] = {
            "TimePeriod": {"Start": first.isoformat(), "End": end.isoformat()},  # End exclusive
            "Granularity": "DAILY",
            "Metrics": [METRIC],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        }
        seen: set[str] = set()
        while True:
            body = self._call(**request)
            for result in r.list(body, "ResultsByTime"):
                result = r.obj(result, "ResultsByTime item")
                period = r.obj(result.get("TimePeriod"), "TimePeriod")
                day = r.day(period.get("Start"), "TimePeriod.Start")
                if r.day(period.get("End"), "TimePeriod.End") != day + DAY:
                    raise r.fail("a DAILY result does not span one day")
                for group in result.get("Groups") or []:
                    yield day, {**r.obj(group, "group"), "_estimated": bool(result.get("Estimated"))}
            token = body.get("NextPageToken")
            if not token:
                return
            if token in seen:
                raise r.fail("NextPageToken repeats")
            seen.add(token)
            request["NextPageToken"] = token

    def _record(self, workspace_id: str, source: str, day: date, group: dict[str, Any]) -> UsageRecord:
        r = self._read
        keys = r.list(group, "Keys", "group ")
        if not keys or not isinstance(keys[0], str):
            raise r.fail("group Keys has no service name")
        metric = r.obj(r.obj(group.get("Metrics"), "group Metrics").get(METRIC), f"Metrics.{METRIC}")
        return day_cost(
            self.provider, workspace_id, source, day,
            currency=r.currency(metric.get("Unit"), f"{METRIC}.Unit"),
            model=keys[0],
            line_item=METRIC,
            billed_cost=r.amount(metric.get("Amount"), f"{METRIC}.Amount"),
            metadata={"estimated": "true" if group["_estimated"] else "false"},
        )

    # -- boto3 ---------------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._ce is None:
            self._ce = self._with_retries(self._build_client)
        return self._ce

    def _build_client(self) -> Any:
        if not self._role_arn:
            session = self._session_factory(
                aws_access_key_id=self._access_key_id, aws_secret_access_key=self._secret_access_key
            )
            return session.client("ce", **self._ce_options)
        # The sync worker's own identity assumes the customer's role, ExternalId against confused deputies.
        base = (
            self._session_factory(aws_access_key_id=self._access_key_id, aws_secret_access_key=self._secret_access_key)
            if self._access_key_id
            else self._session_factory()
        )
        params = {"RoleArn": self._role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if self._external_id:
            params["ExternalId"] = self._external_id
        credentials = base.client("sts", region_name=REGION).assume_role(**params)["Credentials"]
        session = self._session_factory(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return session.client("ce", **self._ce_options)

    def _call(self, **request: Any) -> dict[str, Any]:
        return self._with_retries(lambda: self._client().get_cost_and_usage(**request))

    def _with_retries(self, operation: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except Exception as exc:
                error = self._translate(exc)
                if error is None:
                    raise
            if not self._policy.should_retry(attempt, error):
                raise error
            self._sleep(self._policy.sleep_seconds(attempt))

    def _translate(self, exc: Exception) -> ProviderError | None:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            ParamValidationError,
            PartialCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        secrets = (self._secret_access_key, self._external_id)
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            code = error.get("Code", "")
            message = redact(f"{code}: {error.get('Message', '')}", secrets)
            kwargs = {"status": meta.get("HTTPStatusCode"), "request_id": meta.get("RequestId")}
            if code in _AUTH_CODES:
                return AuthError(self.provider, message, **kwargs)
            if code in _RATE_CODES:
                return RateLimited(self.provider, message, **kwargs)
            if code in _TRANSIENT_CODES or (kwargs["status"] or 0) >= 500:
                return TransientError(self.provider, message, **kwargs)
            return BadRequest(self.provider, message, **kwargs)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return AuthError(self.provider, type(exc).__name__)
        if isinstance(exc, ParamValidationError):
            return BadRequest(self.provider, redact(str(exc), secrets))
        if isinstance(exc, (BotoConnectionError, BotoCoreError)):
            return TransientError(self.provider, f"connection error ({type(exc).__name__})")
        return None
