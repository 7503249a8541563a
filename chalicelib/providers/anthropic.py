"""Anthropic Usage & Cost Admin API (admin key), as usage records.

- ``/v1/organizations/cost_report`` grouped by ``description`` and ``workspace_id`` -> ``COST``
  records. ``amount`` is a decimal string in **cents** (``"123.864"`` is $1.23864).
- ``/v1/organizations/usage_report/messages`` grouped by model, workspace, API key and service
  tier -> ``USAGE`` records per token type, with catalogue estimates. Cache writes come in the
  ``cache_creation`` object (5-minute and 1-hour TTLs, priced differently).

See /work/shared/providers.md section 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import MoneyError, from_cents_string
from chalicelib.domain.pricing import estimate_cost
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.providers._parse import merge_duplicates
from chalicelib.providers._window import DAY, day_floor, day_window
from chalicelib.providers.base import Bucket, HttpProvider, sync_source
from chalicelib.providers.errors import BadRequest
from chalicelib.providers.key_admin import KeyState, not_found

BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
API_KEY_PATH = "/v1/organizations/api_keys/{key_id}"
PAGE_MAX = 31  # 1d buckets per page, both endpoints
# cost_report token_type -> our unit type
_TOKEN_TYPES = {
    "uncached_input_tokens": "input_tokens",
    "cache_read_input_tokens": "cached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write_tokens",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_tokens",
    "output_tokens": "output_tokens",
}


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AnthropicClient(HttpProvider):
    provider = "anthropic"
    base_url = BASE_URL

    def __init__(self, admin_key: str, **options: Any) -> None:
        if not admin_key:
            raise ValueError("an Anthropic admin key is required")
        super().__init__(headers={"x-api-key": admin_key, "anthropic-version": API_VERSION}, secrets=(admin_key,),
                         **options)

    def __repr__(self) -> str:
        return "AnthropicClient(admin_key=***)"

    def verify(self) -> None:
        """One daily cost bucket (yesterday): a complete bucket, so the range is always valid."""
        today = day_floor(self._now())
        self._http.get_json(
            COST_PATH, [("starting_at", _rfc3339(today - DAY)), ("ending_at", _rfc3339(today)), ("limit", 1)]
        )

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        source = sync_source(connection_id)
        records = [*self._costs(workspace_id, source, *window), *self._usage(workspace_id, source, *window)]
        return merge_duplicates(records)

    def set_key_status(self, key_id: str, status: str) -> KeyState:
        """Sets an API key's status (``inactive`` stops it, ``active`` lets it work again)."""
        try:
            body = self._http.request_json("POST", API_KEY_PATH.format(key_id=key_id), body={"status": status})
        except BadRequest as e:
            raise not_found(e) from None
        r = self._read
        return KeyState(r.str(body, "id", "api_key "), r.str(body, "status", "api_key "),
                        r.str(body, "name", "api_key ", optional=True))

    def _costs(self, workspace_id: str, source: str, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        r, where = self._read, "cost result "
        params = [
            ("starting_at", _rfc3339(start)),
            ("ending_at", _rfc3339(end)),
            ("bucket_width", "1d"),
            ("group_by[]", "description"),
            ("group_by[]", "workspace_id"),
            ("limit", self.page_limit(PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(COST_PATH, params):
            try:
                cost = from_cents_string(result.get("amount"))
            except MoneyError as e:
                raise r.fail(f"amount is not a cents string: {result.get('amount')!r}") from e
            token_type = r.str(result, "token_type", where, optional=True)
            metadata = {
                key: value
                for key in ("cost_type", "token_type", "service_tier", "context_window", "inference_geo")
                if isinstance(value := result.get(key), str)
            }
            yield Bucket(self.provider, workspace_id, source, bucket_start, bucket_end).record(
                RecordKind.COST,
                currency=r.currency(result.get("currency"), "currency"),
                model=r.str(result, "model", where, optional=True),
                line_item=r.str(result, "description", where, optional=True),
                unit_type=_TOKEN_TYPES.get(token_type or "", token_type),
                billed_cost=cost,
                project=r.str(result, "workspace_id", where, optional=True),
                metadata=metadata,
            )

    def _usage(self, workspace_id: str, source: str, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        params = [
            ("starting_at", _rfc3339(start)),
            ("ending_at", _rfc3339(end)),
            ("bucket_width", "1d"),
            *(("group_by[]", dim) for dim in ("model", "workspace_id", "api_key_id", "service_tier")),
            ("limit", self.page_limit(PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(USAGE_PATH, params):
            yield from self._usage_records(workspace_id, source, bucket_start, bucket_end, result)

    def _usage_records(
        self, workspace_id: str, source: str, start: datetime, end: datetime, result: dict[str, Any]
    ) -> Iterator[UsageRecord]:
        r, where = self._read, "usage result "
        cache_creation = result.get("cache_creation")
        cache_creation = {} if cache_creation is None else r.obj(cache_creation, "cache_creation")
        write_5m = r.int(cache_creation, "ephemeral_5m_input_tokens", "cache_creation.", optional=True) or 0
        write_1h = r.int(cache_creation, "ephemeral_1h_input_tokens", "cache_creation.", optional=True) or 0
        uncached = r.int(result, "uncached_input_tokens", where)
        cache_read = r.int(result, "cache_read_input_tokens", where, optional=True) or 0
        output = r.int(result, "output_tokens", where)
        model = r.str(result, "model", where, optional=True)
        tier = r.str(result, "service_tier", where, optional=True)
        batch = tier == "batch"
        metadata = {"service_tier": tier} if tier else {}
        server_tool_use = result.get("server_tool_use")
        if isinstance(server_tool_use, dict) and isinstance(server_tool_use.get("web_search_requests"), int):
            metadata["web_search_requests"] = str(server_tool_use["web_search_requests"])
        parts: list[tuple[str, int, dict[str, int], dict[str, str]]] = [
            ("input_tokens", uncached, {"input_tokens": uncached}, {}),
            ("cached_input_tokens", cache_read, {"cached_input_tokens": cache_read}, {}),
            (
                "cache_write_tokens",
                write_5m + write_1h,
                {"cache_write_tokens": write_5m, "cache_write_1h_tokens": write_1h},
                {"ephemeral_5m_input_tokens": str(write_5m), "ephemeral_1h_input_tokens": str(write_1h)},
            ),
            ("output_tokens", output, {"output_tokens": output}, {}),
        ]
        for unit_type, units, tokens, extra in parts:
            yield Bucket(self.provider, workspace_id, source, start, end).record(
                RecordKind.USAGE,
                model=model,
                # the tier is part of the fact's grain: batch and standard rows must not collide
                line_item=tier if tier and tier != "standard" else None,
                unit_type=unit_type,
                units=Decimal(units),
                estimated_cost=estimate_cost(self.provider, model, batch=batch, at=start, **tokens),
                project=r.str(result, "workspace_id", where, optional=True),
                api_key=r.str(result, "api_key_id", where, optional=True),
                metadata={**metadata, **extra},
            )

    def _buckets(self, path: str, params: list[tuple[str, Any]]) -> Iterator[tuple[datetime, datetime, dict]]:
        r = self._read
        return self.bucket_results(path, params, lambda b: (r.rfc3339(b.get("starting_at"), "bucket starting_at"),
                                                            r.rfc3339(b.get("ending_at"), "bucket ending_at")))
