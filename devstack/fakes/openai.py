"""Fake OpenAI Organization Usage (completions) and Costs APIs.

Ledger: per UTC day, completions usage rows at the grain (model, project, API key, batch); cost
line items are derived from them with this fake's own price list (``"<model>, input"`` style,
amounts exact to the token). Wire format per providers.md section 1: Unix-second times, buckets
of 1d with a partial first bucket when ``start_time`` is not midnight, empty buckets present with
``results: []``, ``page``/``next_page``/``has_more`` counted in buckets, dollars as JSON numbers,
``end_time`` in the future rejected.

Project API keys: ``GET /v1/organization/projects/{project_id}/api_keys[/{key_id}]`` and ``DELETE``
of one (OpenAI cannot pause a key, only delete it): 404 for a key the project does not have (or
no longer has), 403 for an admin key that may read usage but not manage keys. The scope named in
that 403 (``api.management.write``) is modelled on the usage one; its real name is UNCONFIRMED.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import DAY, FakeProvider, group_rows, midnight, multi_arg
from devstack.fakes.ledger import FakeKey, LedgerFake

ADMIN_KEY = "sk-admin-FAKE0penAIadminKey0000000000000000000000abcd"
# USD per million tokens: input, cached input, output (this fake's own list, not the catalogue's)
PRICES = {
    "gpt-4o-mini-2024-07-18": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "gpt-4.1-2025-04-14": (Decimal("2.00"), Decimal("0.50"), Decimal("8.00")),
}
BATCH_FACTOR = Decimal("0.5")
BACKGROUND_MODEL = "gpt-4o-mini-2024-07-18"  # the steady unpushed traffic's line item
PROJECTS = ("proj_Wq8sJ2kLx0aBcD3eF4gH5iJ6", "proj_Zt4uV7wXy8zAbC1dE2fG3hI4")
API_KEYS = ("key_AbCdEf0123456789", "key_GhIjKl9876543210")
USAGE_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
USAGE_SUMS = ("input_tokens", "output_tokens", "input_cached_tokens", "input_cache_write_tokens", "num_model_requests")
COST_DIMS = ("line_item", "project_id", "api_key_id")
LIMITS = {"costs": (7, 180), "completions": (7, 31)}  # (default, max) buckets per page


@dataclass
class CompletionsRow:
    day: date
    model: str
    project_id: str
    api_key_id: str
    batch: bool
    input_tokens: int  # includes cached and cache-write tokens, as OpenAI reports
    input_cached_tokens: int
    output_tokens: int
    num_model_requests: int
    input_cache_write_tokens: int | None = None


class FakeOpenAI(LedgerFake):
    provider = "openai"
    request_id_header = "x-request-id"
    default_admin_key = ADMIN_KEY
    api_keys: ClassVar[dict[str, str | None]] = dict(zip(API_KEYS, PROJECTS, strict=True))

    def _seed_day(self, day: date) -> None:
        if self.rng.random() < 0.15:
            return  # a quiet day: an empty bucket
        for model in PRICES:
            for project, key in zip(PROJECTS, API_KEYS, strict=True):
                if self.rng.random() < 0.3:
                    continue
                batch = self.rng.random() < 0.2
                total = self.rng.randint(20_000, 3_000_000)
                cached = self.rng.randint(0, total // 2)
                write = self.rng.randint(0, (total - cached) // 10) if self.rng.random() < 0.3 else None
                self.usage.append(
                    CompletionsRow(
                        day, model, project, key, batch, total, cached,
                        self.rng.randint(1_000, 400_000), self.rng.randint(10, 3_000), write,
                    )
                )

    # -- the ledger (what was billed) ----------------------------------------------------------

    def cost_rows(self, day: date) -> list[dict[str, Any]]:
        """Cost line items of ``day`` at the finest grain (line item, project, API key)."""
        amounts: dict[tuple[str, str, str], tuple[Decimal, int]] = {}
        for row in self.usage:
            if row.day != day:
                continue
            in_price, cached_price, out_price = PRICES[row.model]
            factor = BATCH_FACTOR if row.batch else Decimal(1)
            prefix = f"{row.model}, batch " if row.batch else f"{row.model}, "
            uncached = row.input_tokens - row.input_cached_tokens  # cache writes billed as input
            for kind, tokens, price in (
                ("input", uncached, in_price),
                ("cached input", row.input_cached_tokens, cached_price),
                ("output", row.output_tokens, out_price),
            ):
                if tokens:
                    key = (prefix + kind, row.project_id, row.api_key_id)
                    amount, quantity = amounts.get(key, (Decimal(0), 0))
                    amounts[key] = (amount + Decimal(tokens) * price * factor / 1_000_000, quantity + tokens)
        extra = [(call.model, "input", call.input_cost) for call in self.billed_calls(day)]
        extra += [(call.model, "output", call.output_cost) for call in self.billed_calls(day)]
        if background := self.background_cost(day):
            extra.append((BACKGROUND_MODEL, "input", background))
        for model, kind, cost in extra:
            if cost:
                key = (f"{model}, {kind}", PROJECTS[1], API_KEYS[1])
                amount, quantity = amounts.get(key, (Decimal(0), 0))
                amounts[key] = (amount + cost, quantity)
        rows = []
        for (line_item, project, key), (amount, quantity) in sorted(amounts.items()):
            amount = self.cost_overrides.get((day, line_item, project, key), amount)
            rows.append({"line_item": line_item, "project_id": project, "api_key_id": key,
                         "amount": amount, "quantity": quantity})
        return rows

    def billed_by_day(self) -> dict[date, Decimal]:
        return {day: total for day in self.ledger_days()
                if (total := sum((r["amount"] for r in self.cost_rows(day)), Decimal(0)))}

    def token_totals(self, start: date | None = None, end: date | None = None) -> dict[str, int]:
        days = set(self.days(start, end))
        totals = {"input_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": 0}
        for row in self.usage:
            if row.day in days:
                write = row.input_cache_write_tokens or 0
                totals["input_tokens"] += row.input_tokens - row.input_cached_tokens - write
                totals["cached_input_tokens"] += row.input_cached_tokens
                totals["cache_write_tokens"] += write
                totals["output_tokens"] += row.output_tokens
        return totals

    # -- changing the world --------------------------------------------------------------------

    def grow_today(self, *, input_tokens: int = 100_000, output_tokens: int = 20_000,
                   model: str = "gpt-4o-mini-2024-07-18", api_key: str = API_KEYS[0]) -> bool:
        """More traffic today on ``api_key``: today's bucket grows between two syncs. A deleted key
        makes no more traffic (False)."""
        if self.key_status(api_key) != "active":
            return False
        self.usage.append(CompletionsRow(self.today(), model, self.api_keys[api_key], api_key, False,
                                         input_tokens, 0, output_tokens, 10))
        return True

    def restate(self, day: date, new_amount: Decimal, *, line_item: str | None = None) -> tuple[str, str]:
        """Correct one cost line of a past ``day`` to ``new_amount``; returns (line_item, project_id)."""
        rows = self.cost_rows(day)
        if not rows:
            raise ValueError(f"nothing billed on {day}")
        row = next((r for r in rows if line_item in (None, r["line_item"])), None)
        if row is None:
            raise ValueError(f"no line item {line_item!r} on {day}")
        # the client groups by (line_item, project): put the whole new amount on one key's row
        for other in rows:
            if (other["line_item"], other["project_id"]) == (row["line_item"], row["project_id"]):
                self.cost_overrides[(day, other["line_item"], other["project_id"], other["api_key_id"])] = Decimal(0)
        self.cost_overrides[(day, row["line_item"], row["project_id"], row["api_key_id"])] = Decimal(new_amount)
        return row["line_item"], row["project_id"]

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        return self.authenticates(_bearer(request))

    def error(self, status: int, message: str | None) -> Response:
        kinds = {
            401: ("invalid_request_error", "invalid_api_key",
                  ("Incorrect API key provided: sk-admin-****. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.")),
            403: ("invalid_request_error", None,
                  "You have insufficient permissions for this operation. Missing scopes: api.usage.read"),
            404: ("invalid_request_error", None, "Not found"),
            429: ("requests", "rate_limit_exceeded", "Rate limit reached for organization usage requests."),
            500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
        }
        kind, code, default = kinds.get(status, ("server_error" if status >= 500 else "invalid_request_error", None,
                                                   "Bad request"))
        return self.json({"error": {"message": message or default, "type": kind, "param": None, "code": code}}, status)

    def malformed_body(self) -> Any:
        return {"object": "page", "has_more": False, "next_page": None}  # no "data"

    def route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["v1", "organization", "projects"] and len(parts) in (5, 6) and parts[4] == "api_keys":
            return self._project_keys(request, parts[3], parts[5] if len(parts) == 6 else None)
        if request.method != "GET":
            raise self.bad_request("Method not allowed", 405)
        if request.path == "/v1/organization/costs":
            return self._page(request, "costs")
        if request.path == "/v1/organization/usage/completions":
            return self._page(request, "completions")
        raise self.bad_request(f"Invalid URL (GET {request.path})", 404)

    def _project_keys(self, request: Request, project_id: str, key_id: str | None) -> Response:
        if not self.may_manage_keys(_bearer(request)):
            return self.error(403, "You have insufficient permissions for this operation. "
                                   "Missing scopes: api.management.write")
        keys = [k for k in self.keys.values() if k.project_id == project_id and k.status != "deleted"]
        if key_id is None:
            if request.method != "GET":
                raise self.bad_request("Method not allowed", 405)
            data = [_key_object(k) for k in keys]
            return self.json({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                              "last_id": data[-1]["id"] if data else None, "has_more": False})
        key = next((k for k in keys if k.id == key_id), None)
        if key is None:
            return self.error(404, f"No such API key: {key_id}")
        if request.method == "GET":
            return self.json(_key_object(key))
        if request.method != "DELETE":
            raise self.bad_request("Method not allowed", 405)
        key.status = "deleted"
        return self.json({"object": "organization.project.api_key.deleted", "id": key.id, "deleted": True})

    def _page(self, request: Request, endpoint: str) -> Response:
        start_time = _int_arg(request, "start_time", required=True, fake=self)
        now = int(self.now().timestamp())
        end_time = _int_arg(request, "end_time", required=False, fake=self)
        if end_time is not None and end_time > now:
            raise self.bad_request("end_time must not be in the future")
        if end_time is None:
            end_time = int(midnight(self.today() + DAY).timestamp())
        if end_time <= start_time:
            raise self.bad_request("end_time must be after start_time")
        if request.args.get("bucket_width", "1d") != "1d":
            raise self.bad_request("this fake serves bucket_width=1d only")
        default, maximum = LIMITS[endpoint]
        limit = _int_arg(request, "limit", required=False, fake=self) or default
        if not 1 <= limit <= maximum:
            raise self.bad_request(f"limit must be between 1 and {maximum}")
        buckets = _bucket_bounds(start_time, end_time)
        first = 0
        if page := request.args.get("page"):
            try:
                cursor = int(base64.b64decode(page.removeprefix("page_")).decode())
                first = [b[0] for b in buckets].index(cursor)
            except (ValueError, UnicodeDecodeError):
                raise self.bad_request("Invalid page cursor") from None
        chosen = buckets[first:first + limit]
        group_by = multi_arg(request, "group_by")
        data = [
            {"object": "bucket", "start_time": b_start, "end_time": b_end,
             "results": self._results(endpoint, datetime.fromtimestamp(b_start, UTC).date(), group_by)}
            for b_start, b_end in chosen
        ]
        has_more = first + limit < len(buckets)
        next_page = "page_" + base64.b64encode(str(buckets[first + limit][0]).encode()).decode() if has_more else None
        return self.json({"object": "page", "data": data, "has_more": has_more, "next_page": next_page})

    def _results(self, endpoint: str, day: date, group_by: list[str]) -> list[dict[str, Any]]:
        if endpoint == "costs":
            if not set(group_by) <= set(COST_DIMS):
                raise self.bad_request("Invalid group_by for costs")
            rows = group_rows(self.cost_rows(day), group_by, COST_DIMS, ("amount", "quantity"))
            return [
                {
                    "object": "organization.costs.result",
                    "amount": {"value": float(row["amount"]), "currency": "usd"},
                    "line_item": row["line_item"],
                    "project_id": row["project_id"],
                    "api_key_id": row["api_key_id"],
                    "quantity": row["quantity"] if "line_item" in group_by else None,
                    "quantity_unit": "tokens" if "line_item" in group_by else None,
                    "organization_id": "org-FAKE000000000000",  # seen in the wild; not in the spec
                }
                for row in rows
            ]
        if not set(group_by) <= set(USAGE_DIMS):
            raise self.bad_request("Invalid group_by for completions")
        raw = [
            {"project_id": r.project_id, "user_id": None, "api_key_id": r.api_key_id, "model": r.model,
             "batch": r.batch, "service_tier": "default", "input_tokens": r.input_tokens,
             "output_tokens": r.output_tokens, "input_cached_tokens": r.input_cached_tokens,
             "input_cache_write_tokens": r.input_cache_write_tokens, "num_model_requests": r.num_model_requests}
            for r in self.usage if r.day == day
        ]
        results = []
        for row in group_rows(raw, group_by, USAGE_DIMS, USAGE_SUMS):
            result = {"object": "organization.usage.completions.result", **row,
                      "input_audio_tokens": 0, "output_audio_tokens": 0}
            if result["input_cache_write_tokens"] is None:
                del result["input_cache_write_tokens"]  # an optional, newer field
            results.append(result)
        return results


def _bearer(request: Request) -> str | None:
    value = request.headers.get("Authorization") or ""
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


def _key_object(key: FakeKey) -> dict[str, Any]:
    return {"object": "organization.project.api_key", "redacted_value": f"sk-proj-****{key.id[-4:]}",
            "name": key.name, "created_at": int(key.created_at.timestamp()), "last_used_at": None, "id": key.id,
            "owner": {"type": "service_account", "service_account": {
                "object": "organization.project.service_account", "id": f"svc_acct_{key.id[-8:]}",
                "name": f"{key.name} service", "role": "member", "created_at": int(key.created_at.timestamp())}}}


def _bucket_bounds(start_time: int, end_time: int) -> list[tuple[int, int]]:
    """Daily buckets; the first starts at ``start_time`` and ends at the next UTC midnight."""
    bounds = []
    cursor = start_time
    while cursor < end_time:
        day = datetime.fromtimestamp(cursor, UTC).date()
        next_midnight = int(midnight(day + DAY).timestamp())
        bounds.append((cursor, next_midnight))
        cursor = next_midnight
    return bounds


def _int_arg(request: Request, name: str, *, required: bool, fake: FakeProvider) -> int | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise fake.bad_request(f"Missing required parameter: '{name}'.")
        return None
    try:
        return int(value)
    except ValueError:
        raise fake.bad_request(f"Invalid value for '{name}': expected an integer.") from None
