"""Fake Anthropic Admin API: ``usage_report/messages`` and ``cost_report``.

Ledger: per UTC day, usage rows at the grain (model, workspace, API key, service tier) with the
``cache_creation`` object; cost rows derived with this fake's own price list, in **cents** as
decimal strings (``"123.864"`` = $1.23864). Wire format per providers.md section 2: RFC 3339
``starting_at``/``ending_at``, daily buckets oldest first including empty ones, ``page``/
``next_page``/``has_more`` with ``limit`` <= 31, ``x-api-key`` + ``anthropic-version`` headers,
errors as ``{"type":"error","error":{...},"request_id":...}``.

API keys: ``GET /v1/organizations/api_keys[/{id}]`` and ``POST /v1/organizations/api_keys/{id}``
with ``{"status": "active" | "inactive" | "archived"}`` (an archived key cannot change again): 404
``not_found_error`` for an unknown key, 403 ``permission_error`` for an admin key that may read
usage but not manage keys. An inactive key makes no more traffic.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import (
    DAY,
    FakeProvider,
    decimal_str,
    group_rows,
    midnight,
    multi_arg,
)
from devstack.fakes.ledger import FakeKey, LedgerFake

ADMIN_KEY = "sk-ant-admin01-FAKEanthropicAdminKey000000000000000000000000000-wxyz"
API_VERSION = "2023-06-01"
# cents per million tokens: uncached input, cache read, 5m write, 1h write, output
PRICES_CENTS = {
    "claude-sonnet-4-20250514": ("Claude Sonnet 4", (300, 30, 375, 600, 1500)),
    "claude-3-5-haiku-20241022": ("Claude Haiku 3.5", (80, 8, 100, 160, 400)),
}
WEB_SEARCH_CENTS = Decimal(1)
BACKGROUND_MODEL = "claude-3-5-haiku-20241022"  # the steady unpushed traffic's cost rows  # $10 per 1,000 searches
WORKSPACES = (None, "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ")  # None is the default workspace
API_KEYS = ("apikey_01Rj2N8SVvo6BePZj99NhmiT", "apikey_01Hk3M9TWwp7CfQAk00OinjU")
TOKEN_FIELDS = (
    ("uncached_input_tokens", "Input Tokens", 0),
    ("cache_read_input_tokens", "Cache Read Input Tokens", 1),
    ("cache_creation.ephemeral_5m_input_tokens", "5m Cache Write Input Tokens", 2),
    ("cache_creation.ephemeral_1h_input_tokens", "1h Cache Write Input Tokens", 3),
    ("output_tokens", "Output Tokens", 4),
)
USAGE_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo",
              "account_id", "service_account_id")
USAGE_SUMS = ("uncached_input_tokens", "cache_read_input_tokens", "c5m", "c1h", "output_tokens", "web_search_requests")
COST_DIMS = ("workspace_id", "description")
COST_DETAIL = ("cost_type", "model", "token_type", "service_tier", "context_window", "inference_geo")
PAGE_DEFAULT, PAGE_MAX = 7, 31
MAX_GROUP_BY = 5


@dataclass
class MessagesRow:
    day: date
    model: str
    workspace_id: str | None
    api_key_id: str
    service_tier: str
    uncached_input_tokens: int
    cache_read_input_tokens: int
    c5m: int
    c1h: int
    output_tokens: int
    web_search_requests: int


class FakeAnthropic(LedgerFake):
    provider = "anthropic"
    request_id_header = "request-id"
    default_admin_key = ADMIN_KEY
    api_keys: ClassVar[dict[str, str | None]] = dict(zip(API_KEYS, WORKSPACES, strict=True))
    amount_per_dollar = Decimal(100)  # cost rows are in cents

    def _seed_day(self, day: date) -> None:
        if self.rng.random() < 0.15:
            return
        for model in PRICES_CENTS:
            for workspace, key in zip(WORKSPACES, API_KEYS, strict=True):
                if self.rng.random() < 0.3:
                    continue
                self.usage.append(MessagesRow(
                    day, model, workspace, key, "batch" if self.rng.random() < 0.2 else "standard",
                    self.rng.randint(10_000, 900_000), self.rng.randint(0, 2_000_000),
                    self.rng.randint(0, 90_000), self.rng.randint(0, 20_000) if self.rng.random() < 0.3 else 0,
                    self.rng.randint(1_000, 200_000), self.rng.randint(0, 15) if self.rng.random() < 0.3 else 0,
                ))

    # -- the ledger ----------------------------------------------------------------------------

    def cost_rows(self, day: date) -> list[dict[str, Any]]:
        """Cost rows of ``day`` at the grain (workspace, description); amounts in cents."""
        rows: dict[tuple[str | None, str], dict[str, Any]] = {}
        for u in self.usage:
            if u.day != day:
                continue
            display, prices = PRICES_CENTS[u.model]
            factor = Decimal("0.5") if u.service_tier == "batch" else Decimal(1)
            suffix = " (Batch)" if u.service_tier == "batch" else ""
            counts = (u.uncached_input_tokens, u.cache_read_input_tokens, u.c5m, u.c1h, u.output_tokens)
            for token_type, label, index in TOKEN_FIELDS:
                if counts[index]:
                    description = f"{display} Usage - {label}{suffix}"
                    amount = Decimal(counts[index]) * prices[index] * factor / 1_000_000
                    self._add(rows, u.workspace_id, description, amount, cost_type="tokens", model=u.model,
                              token_type=token_type, service_tier=u.service_tier, context_window="0-200k",
                              inference_geo="global")
            if u.web_search_requests:
                self._add(rows, u.workspace_id, "Web Search Usage", u.web_search_requests * WEB_SEARCH_CENTS,
                          cost_type="web_search", model=None, token_type=None, service_tier=None,
                          context_window=None, inference_geo=None)
        extra = [(call.model, 0, call.input_cost) for call in self.billed_calls(day)]
        extra += [(call.model, 4, call.output_cost) for call in self.billed_calls(day)]
        if background := self.background_cost(day):
            extra.append((BACKGROUND_MODEL, 0, background))
        for model, index, usd in extra:
            if usd:
                token_type, label, _ = TOKEN_FIELDS[index]
                self._add(rows, WORKSPACES[1], f"{PRICES_CENTS[model][0]} Usage - {label}", usd * 100,
                          cost_type="tokens", model=model, token_type=token_type, service_tier="standard",
                          context_window="0-200k", inference_geo="global")
        for (workspace, description), row in rows.items():
            row["amount"] = self.cost_overrides.get((day, workspace, description), row["amount"])
        return [rows[k] for k in sorted(rows, key=lambda k: (k[0] or "", k[1]))]

    @staticmethod
    def _add(rows: dict, workspace: str | None, description: str, amount: Decimal, **detail: Any) -> None:
        row = rows.setdefault((workspace, description),
                              {"workspace_id": workspace, "description": description, "amount": Decimal(0), **detail})
        row["amount"] += amount

    def token_totals(self, start: date | None = None, end: date | None = None) -> dict[str, int]:
        days = set(self.days(start, end))
        rows = [u for u in self.usage if u.day in days]
        return {
            "input_tokens": sum(u.uncached_input_tokens for u in rows),
            "cached_input_tokens": sum(u.cache_read_input_tokens for u in rows),
            "cache_write_tokens": sum(u.c5m + u.c1h for u in rows),
            "output_tokens": sum(u.output_tokens for u in rows),
        }

    # -- changing the world --------------------------------------------------------------------

    def grow_today(self, *, uncached_input_tokens: int = 50_000, output_tokens: int = 10_000,
                   model: str = "claude-sonnet-4-20250514", api_key: str = API_KEYS[0]) -> bool:
        """More traffic today on ``api_key``; a key that is not active makes none (False)."""
        if self.key_status(api_key) != "active":
            return False
        self.usage.append(MessagesRow(self.today(), model, self.api_keys[api_key], api_key, "standard",
                                      uncached_input_tokens, 0, 0, 0, output_tokens, 0))
        return True

    def restate(self, day: date, new_amount_cents: Decimal, *,
                description: str | None = None) -> tuple[str | None, str]:
        """Correct one cost row of ``day`` to ``new_amount_cents``; returns (workspace_id, description)."""
        rows = [r for r in self.cost_rows(day) if description in (None, r["description"])]
        if not rows:
            raise ValueError(f"nothing billed on {day}")
        key = (rows[0]["workspace_id"], rows[0]["description"])
        self.cost_overrides[(day, *key)] = Decimal(new_amount_cents)
        return key

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        return self.authenticates(request.headers.get("x-api-key"))

    def error(self, status: int, message: str | None) -> Response:
        kinds = {
            400: ("invalid_request_error", "Invalid request"),
            401: ("authentication_error", "invalid x-api-key"),
            403: ("permission_error", "Your API key does not have permission to use the specified resource."),
            404: ("not_found_error", "The requested resource could not be found."),
            429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
            500: ("api_error", "Internal server error"),
            529: ("overloaded_error", "Overloaded"),
        }
        kind, default = kinds.get(status, ("api_error" if status >= 500 else "invalid_request_error", "Error"))
        request_id = self.new_request_id()
        return self.json({"type": "error", "error": {"type": kind, "message": message or default},
                          "request_id": request_id}, status, {"request-id": request_id})

    def malformed_body(self) -> Any:
        return {"data": [{"starting_at": "not-a-time", "results": []}], "has_more": False, "next_page": None}

    def route(self, request: Request) -> Response:
        if request.headers.get("anthropic-version") is None:
            raise self.bad_request("anthropic-version: header is required")
        if request.path == "/v1/organizations/api_keys" or request.path.startswith("/v1/organizations/api_keys/"):
            return self._api_keys(request, request.path.removeprefix("/v1/organizations/api_keys").strip("/"))
        if request.path == "/v1/organizations/cost_report":
            return self._page(request, "cost")
        if request.path == "/v1/organizations/usage_report/messages":
            return self._page(request, "usage")
        raise self.bad_request(f"Not found: {request.path}", 404)

    def _api_keys(self, request: Request, key_id: str) -> Response:
        if not self.may_manage_keys(request.headers.get("x-api-key")):
            return self.error(403, None)
        if not key_id:
            if request.method != "GET":
                raise self.bad_request("Method not allowed", 405)
            data = [_key_object(k) for k in self.keys.values()]
            return self.json({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                              "last_id": data[-1]["id"] if data else None})
        key = self.keys.get(key_id)
        if key is None or "/" in key_id:
            return self.error(404, None)
        if request.method == "GET":
            return self.json(_key_object(key))
        if request.method != "POST":
            raise self.bad_request("Method not allowed", 405)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            raise self.bad_request("Request body is not valid JSON") from None
        status = body.get("status") if isinstance(body, dict) else None
        if status is not None and status not in ("active", "inactive", "archived"):
            raise self.bad_request("status: Input should be 'active', 'inactive' or 'archived'")
        if key.status == "archived" and status not in (None, "archived"):
            raise self.bad_request("An archived API key cannot be changed")
        if isinstance(body.get("name"), str) and body["name"]:
            key.name = body["name"]
        if status:
            key.status = status
        return self.json(_key_object(key))

    def _page(self, request: Request, endpoint: str) -> Response:
        starting_at = _time_arg(self, request, "starting_at")
        if starting_at is None:
            raise self.bad_request("starting_at: Field required")
        ending_at = _time_arg(self, request, "ending_at") or midnight(self.today() + DAY)
        if request.args.get("bucket_width", "1d") != "1d":
            raise self.bad_request("this fake serves bucket_width=1d only")
        group_by = multi_arg(request, "group_by")
        if len(group_by) > MAX_GROUP_BY:
            raise self.bad_request("Cannot specify more than 5 group_by[] dimensions.")
        try:
            limit = int(request.args.get("limit", PAGE_DEFAULT))
        except ValueError:
            raise self.bad_request("limit: Input should be a valid integer") from None
        if not 1 <= limit <= PAGE_MAX:
            raise self.bad_request(f"limit: Input should be less than or equal to {PAGE_MAX}")
        first_start = midnight(starting_at.date())  # snapped to the start of the day
        days = []
        cursor = first_start
        while cursor + DAY <= ending_at:  # buckets that end at or before ending_at
            days.append(cursor.date())
            cursor += DAY
        if not days:
            raise self.bad_request("Invalid date range: ending date must be after starting date")
        first = 0
        if page := request.args.get("page"):
            try:
                first = days.index(date.fromisoformat(base64.b64decode(page.removeprefix("page_")).decode()[:10]))
            except (ValueError, UnicodeDecodeError):
                raise self.bad_request("Invalid page token") from None
        chosen = days[first:first + limit]
        data = [
            {"starting_at": _iso(midnight(d)), "ending_at": _iso(midnight(d + DAY)),
             "results": self._results(endpoint, d, group_by)}
            for d in chosen
        ]
        has_more = first + limit < len(days)
        next_page = (
            "page_" + base64.b64encode(_iso(midnight(days[first + limit])).encode()).decode() if has_more else None
        )
        return self.json({"data": data, "has_more": has_more, "next_page": next_page})

    def _results(self, endpoint: str, day: date, group_by: list[str]) -> list[dict[str, Any]]:
        if endpoint == "cost":
            if not set(group_by) <= set(COST_DIMS):
                raise self.bad_request("group_by: only workspace_id and description are supported")
            dims = (*COST_DIMS, *COST_DETAIL) if "description" in group_by else COST_DIMS
            rows = group_rows(self.cost_rows(day), [*group_by, *(COST_DETAIL if "description" in group_by else ())],
                              dims, ("amount",))
            return [
                {"amount": decimal_str(row["amount"]), "currency": "USD",
                 **{k: row.get(k) for k in (*COST_DIMS, *COST_DETAIL)}}
                for row in rows
            ]
        if not set(group_by) <= set(USAGE_DIMS):
            raise self.bad_request("group_by: unsupported dimension")
        raw = [
            {"api_key_id": u.api_key_id, "workspace_id": u.workspace_id, "model": u.model,
             "service_tier": u.service_tier, "context_window": "0-200k", "inference_geo": "global",
             "account_id": None, "service_account_id": None,
             "uncached_input_tokens": u.uncached_input_tokens, "cache_read_input_tokens": u.cache_read_input_tokens,
             "c5m": u.c5m, "c1h": u.c1h, "output_tokens": u.output_tokens,
             "web_search_requests": u.web_search_requests}
            for u in self.usage if u.day == day
        ]
        results = []
        for row in group_rows(raw, group_by, USAGE_DIMS, USAGE_SUMS):
            results.append({
                "uncached_input_tokens": row["uncached_input_tokens"],
                "cache_read_input_tokens": row["cache_read_input_tokens"],
                "cache_creation": {"ephemeral_5m_input_tokens": row["c5m"], "ephemeral_1h_input_tokens": row["c1h"]},
                "output_tokens": row["output_tokens"],
                "server_tool_use": {"web_search_requests": row["web_search_requests"]},
                **{d: row[d] for d in USAGE_DIMS},
            })
        return results


def _key_object(key: FakeKey) -> dict[str, Any]:
    return {"type": "api_key", "id": key.id, "name": key.name, "workspace_id": key.project_id,
            "created_at": _iso(key.created_at), "created_by": {"id": "user_01FAKEowner0000000000000", "type": "user"},
            "partial_key_hint": f"sk-ant-api03-{key.id[-3:]}...{key.id[-4:]}AA", "status": key.status,
            "expires_at": None}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_arg(fake: FakeProvider, request: Request, name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fake.bad_request(f"{name}: Input should be a valid datetime") from None
    if moment.tzinfo is None:
        raise fake.bad_request(f"{name}: timezone required")
    return moment.astimezone(UTC)


