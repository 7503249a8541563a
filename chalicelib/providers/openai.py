"""OpenAI Organization Costs and Usage APIs (admin key), as usage records.

- ``/v1/organization/costs`` grouped by ``line_item`` and ``project_id`` -> ``COST`` records: the
  figure that matches the invoice (``amount.value`` is a JSON number in dollars).
- ``/v1/organization/usage/completions`` grouped by model, project, API key and batch -> ``USAGE``
  records, one per token type, each with an estimate from the price catalogue.

Windows are whole UTC days; ``end_time`` is never in the future (OpenAI rejects it).
See /work/shared/providers.md section 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.pricing import estimate_cost
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.providers._parse import merge_duplicates
from chalicelib.providers._window import day_floor, day_window, to_unix
from chalicelib.providers.base import HttpProvider, sync_source

BASE_URL = "https://api.openai.com"
COSTS_PATH = "/v1/organization/costs"
COMPLETIONS_PATH = "/v1/organization/usage/completions"
COSTS_PAGE_MAX = 180  # buckets per page
USAGE_PAGE_MAX = 31  # 1d buckets per page
# ``"<model>, input"`` style line items (naming UNCONFIRMED): the model is the part before ", ".
_LINE_ITEM_MODEL = re.compile(r"^(?P<model>[^,]+), (?P<kind>[^,]+)$")


class OpenAIClient(HttpProvider):
    provider = "openai"
    base_url = BASE_URL

    def __init__(self, admin_key: str, **options: Any) -> None:
        if not admin_key:
            raise ValueError("an OpenAI admin key is required")
        super().__init__(headers={"Authorization": f"Bearer {admin_key}"}, secrets=(admin_key,), **options)

    def __repr__(self) -> str:
        return "OpenAIClient(admin_key=***)"

    def verify(self) -> None:
        """One-bucket costs read for today: rejects project keys and revoked admin keys."""
        today = day_floor(self._now())
        self._http.get_json(COSTS_PATH, [("start_time", to_unix(today)), ("limit", 1)])

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        common = _Common(workspace_id, sync_source(connection_id))
        records = [*self._costs(common, *window), *self._usage(common, *window)]
        return merge_duplicates(records)

    # -- costs ---------------------------------------------------------------------------------

    def _costs(self, common: _Common, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        params = [
            *self._time_params(start, end),
            ("bucket_width", "1d"),
            ("group_by[]", "line_item"),
            ("group_by[]", "project_id"),
            ("limit", self.page_limit(COSTS_PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(COSTS_PATH, params):
            yield self._cost_record(common, bucket_start, bucket_end, result)

    def _cost_record(self, common: _Common, start: datetime, end: datetime, result: dict[str, Any]) -> UsageRecord:
        r = self._read
        amount = r.obj(result.get("amount"), "costs result amount")
        line_item = r.str(result, "line_item", "costs result ", optional=True)
        quantity = result.get("quantity")
        match = _LINE_ITEM_MODEL.match(line_item or "")
        return UsageRecord(
            workspace_id=common.workspace_id,
            kind=RecordKind.COST,
            source=common.source,
            provider=self.provider,
            bucket_start=start,
            bucket_end=end,
            currency=r.currency(amount.get("currency"), "amount.currency"),
            model=match["model"] if match else None,
            line_item=line_item,
            unit_type=r.str(result, "quantity_unit", "costs result ", optional=True),
            units=r.amount(quantity, "quantity") if quantity is not None else Decimal(0),
            billed_cost=r.amount(amount.get("value"), "amount.value"),
            project=r.str(result, "project_id", "costs result ", optional=True),
            api_key=r.str(result, "api_key_id", "costs result ", optional=True),
        )

    # -- usage ---------------------------------------------------------------------------------

    def _usage(self, common: _Common, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        params = [
            *self._time_params(start, end),
            ("bucket_width", "1d"),
            *(("group_by[]", dim) for dim in ("model", "project_id", "api_key_id", "batch")),
            ("limit", self.page_limit(USAGE_PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(COMPLETIONS_PATH, params):
            yield from self._usage_records(common, bucket_start, bucket_end, result)

    def _usage_records(
        self, common: _Common, start: datetime, end: datetime, result: dict[str, Any]
    ) -> Iterator[UsageRecord]:
        r, where = self._read, "completions result "
        total_input = r.int(result, "input_tokens", where)
        output = r.int(result, "output_tokens", where)
        cached = r.int(result, "input_cached_tokens", where, optional=True)
        cache_write = r.int(result, "input_cache_write_tokens", where, optional=True)
        requests = r.int(result, "num_model_requests", where, optional=True)
        model = r.str(result, "model", where, optional=True)
        batch = bool(r.bool(result, "batch", where, optional=True))
        uncached = total_input - (cached or 0) - (cache_write or 0)
        if uncached < 0:
            raise r.fail("input_tokens is smaller than its cached parts")
        # input_tokens includes cached and cache-write tokens; each record carries its own part.
        parts: list[tuple[str, int, dict[str, int]]] = [
            ("input_tokens", uncached, {"input_tokens": uncached}),
            ("output_tokens", output, {"output_tokens": output}),
        ]
        if cached is not None:
            parts.append(("cached_input_tokens", cached, {"cached_input_tokens": cached}))
        if cache_write is not None:
            parts.append(("cache_write_tokens", cache_write, {"cache_write_tokens": cache_write}))
        metadata = {"batch": "true" if batch else "false"}
        if requests is not None:
            metadata["num_model_requests"] = str(requests)
        for unit_type, units, tokens in parts:
            yield UsageRecord(
                workspace_id=common.workspace_id,
                kind=RecordKind.USAGE,
                source=common.source,
                provider=self.provider,
                bucket_start=start,
                bucket_end=end,
                model=model,
                line_item="batch" if batch else None,  # keeps batch and standard rows apart
                unit_type=unit_type,
                units=Decimal(units),
                estimated_cost=estimate_cost(self.provider, model, batch=batch, at=start, **tokens),
                project=r.str(result, "project_id", where, optional=True),
                api_key=r.str(result, "api_key_id", where, optional=True),
                metadata=dict(metadata),
            )

    # -- paging --------------------------------------------------------------------------------

    def _time_params(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        # Never a future end_time: clamp to now (the window is already clamped to today's bucket).
        end_time = min(to_unix(end), int(self._now().timestamp()))
        return [("start_time", to_unix(start)), ("end_time", end_time)]

    def _buckets(self, path: str, params: list[tuple[str, Any]]) -> Iterator[tuple[datetime, datetime, dict]]:
        """(bucket start, bucket end, result) for every result of every page.

        ``fetch`` collects everything into a list, so an error on any page raises before a
        single record is returned.
        """
        r = self._read
        page: str | None = None
        seen_pages: set[str] = set()
        while True:
            body = self._http.get_json(path, [*params, ("page", page)] if page else params)
            for bucket in r.list(body, "data"):
                bucket = r.obj(bucket, "bucket")
                start = r.timestamp(bucket.get("start_time"), "bucket start_time")
                end = r.timestamp(bucket.get("end_time"), "bucket end_time")
                r.bucket(start, end, "bucket")
                for result in r.list(bucket, "results", "bucket "):
                    yield start, end, r.obj(result, "result")
            has_more = body.get("has_more")
            page = body.get("next_page")
            if not has_more or not page:
                return
            if not isinstance(page, str) or page in seen_pages:
                raise r.fail("next_page cursor is invalid or repeats")
            seen_pages.add(page)


class _Common:
    __slots__ = ("source", "workspace_id")

    def __init__(self, workspace_id: str, source: str) -> None:
        self.workspace_id = workspace_id
        self.source = source
