"""The budget circuit breaker: a team's code asks whether its budget is ok, near or over."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api.http import JSON_HEADERS, Ctx, endpoint, json_response
from chalicelib.api.schemas import Strict
from chalicelib.lazy import lazy

budget_status = lazy("chalicelib.services.budget_status")

bp = Blueprint(__name__)
MAX_AGE_SECONDS = 5


class BudgetStatusQuery(Strict):
    scope: Annotated[str, StringConstraints(max_length=220)] | None = Field(
        None, description="provider:<id>, model:<name>, project:<tag>, feature:<tag> or customer:<id> "
        "(default: all spend)")


Money = str | None


class BudgetStatusAnswer(BaseModel):
    state: Literal["ok", "warn", "over"]
    spent: Money = Field(description="spent in the current period, exact decimal (null: no budget covers the scope)")
    budget: Money
    warn_at: Money = Field(description="the amount from which the state is warn")
    currency: str | None
    period: str | None = Field(description="daily, weekly, monthly or rolling_<n>d")
    period_start: str | None = Field(description="first UTC day of the period")
    resets_at: str | None = Field(description="when the period's spend starts again from zero (UTC)")
    alert_id: str | None = Field(description="the budget alert that decided the answer")
    scope: str | None


@endpoint(bp, "/api/budget-status", "GET", tag="ingestion", auth=False, query=BudgetStatusQuery,
          response=BudgetStatusAnswer,
          summary="Budget circuit breaker: ok, warn or over for a scope (ingest key as bearer)",
          description="Authenticate with `Authorization: Bearer cpk_live_...` (an ingest key). Answers from "
          "the workspace's active budget alerts as of their last evaluation (each push that adds spend "
          "queues one, and a sweep runs every 5 minutes), never by querying usage. The alerts that cover "
          "a scope are those on exactly that scope and the workspace-wide ones; the tightest decides. "
          "`over` from 100 % of the budget, `warn` from the alert's highest level under 100 % (else 80 %). "
          "With no budget alert covering the scope: `ok` with `budget` and `spent` null. Cacheable for "
          f"{MAX_AGE_SECONDS} seconds (private).")
def get_budget_status(ctx: Ctx) -> Response:
    answer = budget_status.status(ctx.request.headers.get("authorization"), ctx.query.scope)
    response = json_response(answer)
    response.headers = {**JSON_HEADERS, "Cache-Control": f"private, max-age={MAX_AGE_SECONDS}"}
    return response
