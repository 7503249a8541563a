"""Forecast and insights."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Strict
from chalicelib.domain.roles import Permission
from chalicelib.errors import ValidationFailed
from chalicelib.lazy import lazy

forecasting = lazy("chalicelib.services.forecasting")

bp = Blueprint(__name__)
ScopeValue = Annotated[str, Field(max_length=256)]


class ForecastParams(Strict):
    horizon: Annotated[int, Field(ge=7, le=90)] = 30
    budget: Annotated[Decimal, Field(gt=0, le=Decimal(10**9), max_digits=20, decimal_places=6)] | None = None
    period: Literal["month", "week"] = "month"
    provider: ScopeValue | None = None
    model: ScopeValue | None = None
    project: ScopeValue | None = None
    feature: ScopeValue | None = None


@endpoint(bp, "/api/workspaces/{workspace_id}/forecast", "GET", tag="forecast", permission=Permission.READ,
          query=ForecastParams, summary="Daily spend forecast with bands, period-end projection and risk",
          description="Scope with provider/model/project/feature. Includes the method's backtest accuracy on "
          "this workspace's own history so you can see how much to trust it. Days are UTC days.")
def get_forecast(ctx: Ctx, workspace_id: str) -> dict:
    q = ctx.query
    filters = {d: frozenset([getattr(q, d)]) for d in ("provider", "model", "project", "feature") if getattr(q, d)}
    if not q.budget and q.budget is not None:
        raise ValidationFailed("budget must be positive", field="budget")
    return forecasting.forecast(workspace_id, q.horizon, filters, q.budget, q.period)


@endpoint(bp, "/api/workspaces/{workspace_id}/insights", "GET", tag="forecast", permission=Permission.READ,
          summary="Explainable insights over the last 30 days (concentration, growth, cheaper model, new tags), "
          "each with the monthly saving acting on it would bring; on a plan keeping less history, its two halves")
def get_insights(ctx: Ctx, workspace_id: str) -> dict:
    return forecasting.insights(workspace_id)
