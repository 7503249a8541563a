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
from chalicelib.providers.base import Bucket, HttpProvider, sync_source
from chalicelib.providers.errors import BadRequest
from chalicelib.providers.key_admin import KeyState, not_found

BASE_URL = "https://api.openai.com"
COSTS_PATH = "/v1/organization/costs"
COMPLETIONS_PATH = "/v1/organization/usage/completions"
PROJECT_KEY_PATH = "/v1/organization/projects/{project_id}/api_keys/{key_id}"
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
        source = sync_source(connection_id)
        records = [*self._costs(workspace_id, source, *window), *self._usage(workspace_id, source, *window)]
        return merge_duplicates(records)

    def delete_project_key(self, project_id: str, key_id: str) -> KeyState:
        """Deletes a project API key (OpenAI cannot pause one): permanent."""
        try:
            body = self._http.request_json("DELETE", PROJECT_KEY_PATH.format(project_id=project_id, key_id=key_id))
        except BadRequest as e:
            raise not_found(e) from None
        if body.get("deleted") is not True:
            raise self._read.fail("the delete answer does not say deleted")
        return KeyState(key_id, "deleted")

    # -- costs ---------------------------------------------------------------------------------

    def _costs(self, workspace_id: str, source: str, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        params = [
            *self._time_params(start, end),
            ("bucket_width", "1d"),
            ("group_by[]", "line_item"),
            ("group_by[]", "project_id"),
            ("limit", self.page_limit(COSTS_PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(COSTS_PATH, params):
            yield self._cost_record(Bucket(self.provider, workspace_id, source, bucket_start, bucket_end), result)

    def _cost_record(self, bucket: Bucket, result: dict[str, Any]) -> UsageRecord:
        r = self._read
        amount = r.obj(result.get("amount"), "costs result amount")
        line_item = r.str(result, "line_item", "costs result ", optional=True)
        quantity = result.get("quantity")
        match = _LINE_ITEM_MODEL.match(line_item or "")
        return bucket.record(
            RecordKind.COST,
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

    def _usage(self, workspace_id: str, source: str, start: datetime, end: datetime) -> Iterator[UsageRecord]:
        params = [
            *self._time_params(start, end),
            ("bucket_width", "1d"),
            *(("group_by[]", dim) for dim in ("model", "project_id", "api_key_id", "batch")),
            ("limit", self.page_limit(USAGE_PAGE_MAX)),
        ]
        for bucket_start, bucket_end, result in self._buckets(COMPLETIONS_PATH, params):
            yield from self._usage_records(Bucket(self.provider, workspace_id, source, bucket_start, bucket_end),
                                           result)

    def _usage_records(self, bucket: Bucket, result: dict[str, Any]) -> Iterator[UsageRecord]:
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
            yield bucket.record(
                RecordKind.USAGE,
                model=model,
                line_item="batch" if batch else None,  # keeps batch and standard rows apart
                unit_type=unit_type,
                units=Decimal(units),
                estimated_cost=estimate_cost(self.provider, model, batch=batch, at=bucket.start, **tokens),
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
        r = self._read
        return self.bucket_results(path, params, lambda b: (r.timestamp(b.get("start_time"), "bucket start_time"),
                                                            r.timestamp(b.get("end_time"), "bucket end_time")))
