"""What every provider client offers the sync worker and the connect call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.providers._parse import Reader
from chalicelib.providers.http import ProviderHTTP, RetryPolicy, build_http_client

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ProviderClient(Protocol):
    provider: str

    def verify(self) -> None:
        """One cheap read; raises ``AuthError`` with the provider's reason if the key is rejected."""

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        """All records for the whole UTC days in ``[start, end)``, or an error: never half a window."""


def sync_source(connection_id: str) -> str:
    return f"sync:{connection_id}"


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where one fetched bucket's records belong: the provider, workspace, sync source and times."""

    provider: str
    workspace_id: str
    source: str
    start: datetime
    end: datetime

    def record(self, kind: RecordKind, **fields: Any) -> UsageRecord:
        return UsageRecord(workspace_id=self.workspace_id, kind=kind, source=self.source, provider=self.provider,
                           bucket_start=self.start, bucket_end=self.end, **fields)


BucketTimes = Callable[[dict[str, Any]], tuple[datetime, datetime]]


class HttpProvider:
    """Wiring every HTTP provider client shares: one ``ProviderHTTP`` (auth, secret scrubbing, the
    retry policy), the clock, the strict payload reader, and a page size capped per endpoint.

    A subclass sets ``provider`` and ``base_url`` and passes its own auth; the options are the same
    for all: ``http_client`` or ``base_url``/``transport`` (tests and fakes), ``policy``, ``sleep``,
    ``now`` and ``page_size`` (a smaller page, to exercise pagination).
    """

    provider = "provider"
    base_url = ""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        secrets: tuple[str, ...] = (),
        http_client: httpx.Client | None = None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Clock = utc_now,
        page_size: int | None = None,
    ) -> None:
        self._http = ProviderHTTP(
            self.provider,
            http_client or build_http_client(base_url or self.base_url, transport=transport),
            headers=headers, auth=auth, secrets=secrets, policy=policy, sleep=sleep,
        )
        self._now = now
        self._page_size = page_size
        self._read = Reader(self.provider)

    def page_limit(self, maximum: int) -> int:
        """The page size to ask for: the requested one, at most the endpoint's ``maximum``."""
        return min(self._page_size or maximum, maximum)

    def bucket_results(self, path: str, params: list[tuple[str, Any]], times: BucketTimes,
                       ) -> Iterator[tuple[datetime, datetime, dict[str, Any]]]:
        """(bucket start, bucket end, result) for every result of every page of a bucketed report
        (OpenAI's and Anthropic's usage and cost endpoints: ``data`` of buckets with ``results``,
        ``has_more`` and ``next_page``, sent back as ``page`` with the same other parameters).

        ``times`` reads a bucket's bounds (their field names and formats differ). Callers collect
        everything into a list, so an error on any page raises before a single record is returned.
        """
        r = self._read
        page: str | None = None
        seen: set[str] = set()
        while True:
            body = self._http.get_json(path, [*params, ("page", page)] if page else params)
            for bucket in r.list(body, "data"):
                bucket = r.obj(bucket, "bucket")
                start, end = r.bucket(*times(bucket), "bucket")
                for result in r.list(bucket, "results", "bucket "):
                    yield start, end, r.obj(result, "result")
            page = body.get("next_page")
            if not body.get("has_more") or not page:
                return
            if not isinstance(page, str) or page in seen:
                raise r.fail("next_page cursor is invalid or repeats")
            seen.add(page)
