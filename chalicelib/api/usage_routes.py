"""Usage: ingest keys, the push endpoint, and usage queries (JSON and CSV)."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint, Response
from pydantic import ConfigDict, Field

from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.api.schemas import Name, Strict
from chalicelib.api.usage_schemas import UsageResponse
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

ingestion = lazy("chalicelib.services.ingestion")
usage_queries = lazy("chalicelib.services.usage_queries")

bp = Blueprint(__name__)


class NewIngestKey(Strict):
    name: Name


class UsageParams(Strict):
    """Days are UTC days (providers bill in UTC); ``from`` and ``to`` are inclusive."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str | None = Field(None, alias="from", description="first UTC day, YYYY-MM-DD (default: 29 days before to)")
    to: str | None = Field(None, description="last UTC day, YYYY-MM-DD (default: today, UTC)")
    granularity: Literal["day", "week", "month"] = "day"
    group_by: str | None = Field(None, description="comma-separated: provider, model, project, feature, customer, "
                                 "api_key, unit_type")
    provider: str | None = Field(None, description="filter: comma-separated values (an empty item selects 'not set')")
    model: str | None = None
    project: str | None = None
    feature: str | None = None
    customer: str | None = None
    api_key: str | None = None
    unit_type: str | None = None
    format: Literal["json", "csv", "focus"] = "json"


KEYS = "/api/workspaces/{workspace_id}/ingest-keys"


@endpoint(bp, KEYS, "GET", summary="List ingest keys (by prefix, with last use)", tag="ingestion",
          permission=Permission.READ)
def list_keys(ctx: Ctx, workspace_id: str) -> dict:
    return {"ingest_keys": ingestion.list_keys(ctx.membership)}


@endpoint(bp, KEYS, "POST", summary="Create an ingest key and signing secret (shown once)", tag="ingestion",
          permission=Permission.MANAGE_KEYS, body=NewIngestKey, status=201)
def create_key(ctx: Ctx, workspace_id: str) -> dict:
    return ingestion.create_key(ctx.membership, ctx.body.name)


@endpoint(bp, KEYS + "/{key_id}", "DELETE", summary="Revoke an ingest key", tag="ingestion",
          permission=Permission.MANAGE_KEYS)
def revoke_key(ctx: Ctx, workspace_id: str, key_id: str) -> dict:
    return ingestion.revoke_key(ctx.membership, key_id)


@endpoint(bp, "/api/webhooks/provider-usage", "POST", tag="ingestion", auth=False, raw_body=True,
          summary="Push a batch of up to 1,000 usage events (ingest key or HMAC signature)",
          description="Authenticate with `Authorization: Bearer cpk_live_...` or sign the raw body: "
          "`X-CostPilot-Signature: t=<unix>,kid=<signing kid>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">` "
          "(5-minute window). Body: `{\"events\": [{\"id\", \"timestamp\", \"provider\", \"model\", "
          "\"input_tokens\", \"output_tokens\", \"cached_input_tokens\", \"cache_write_tokens\" | \"units\" + "
          "\"unit_type\", \"cost\", \"currency\", \"project\", \"feature\", \"customer\", \"metadata\"}]}`. "
          "Each event is reported accepted, duplicate or rejected (with field and reason); metadata only, "
          "prompts and responses are refused.")
def push_usage(ctx: Ctx) -> Response:
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    result = ingestion.ingest_batch(headers, ctx.request.raw_body or b"")
    summary = result["summary"]
    if summary["rejected"] and not summary["accepted"] and not summary["duplicate"]:
        return json_response({"error": {"code": "all_events_rejected", "message": "no event was accepted; "
                              "see events[].reason"}, **result}, 400)
    return json_response(result, 200)


@endpoint(bp, "/api/workspaces/{workspace_id}/usage", "GET", tag="usage", permission=Permission.READ,
          query=UsageParams, response=UsageResponse,
          summary="Spend and usage by day/week/month, grouped and filtered (UTC days)",
          description="Series and totals as exact decimal strings with currency. `spend` follows the "
          "attribution rule: a connected provider's bill is the spend and pushed events attribute it "
          "(the rest shows as `(unattributed)`); without a connection, pushed events are the spend. "
          "While a provider has not finished billing a day (its `final_at` in `provisional`), spend is "
          "the larger of the bill so far and the pushed events, per model where both name it, and the "
          "figure's `state` is `provisional` (else `final`); `provisional_spend` is its provisional part. "
          "`format=csv` downloads the same as CSV, with `state` and `provisional_spend` columns; `format=focus` "
          "as a FinOps FOCUS 1.2 CSV (always grouped by provider and model).")
def usage(ctx: Ctx, workspace_id: str) -> Response | dict:
    params = ctx.query.model_dump(by_alias=True, exclude_none=True)
    fmt = params.pop("format", "json")
    if fmt == "focus":
        from chalicelib.domain import focus_export

        params["group_by"] = focus_export.group_by(params.get("group_by"))
    query = usage_queries.parse(params)
    result, notice = usage_queries.run_within_plan(workspace_id, query)
    if fmt == "csv":
        from chalicelib.domain import csv_export

        return Response(body=csv_export.usage_csv(result), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{csv_export.filename(result, workspace_id)}"'})
    if fmt == "focus":
        return Response(body=focus_export.focus_csv(result, workspace_id), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{focus_export.filename(result, workspace_id)}"'})
    body = {"timezone": "UTC", **result.to_json()}
    if notice:
        body["notice"] = notice
    return body
