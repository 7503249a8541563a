"""The dashboard's first screen in one call (see services/dashboard.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

dashboard = lazy("chalicelib.services.dashboard")

bp = Blueprint(__name__)


class SummaryParams(Strict):
    days: Annotated[int, Field(ge=7, le=90)] = 30
    group_by: Literal["provider", "model", "project", "feature", "customer"] = "provider"


@endpoint(bp, "/api/workspaces/{workspace_id}/summary", "GET", tag="usage", permission=Permission.READ,
          query=SummaryParams, summary="The dashboard's first screen: month to date, projection, daily spend, "
          "open firings and top movers (UTC days)",
          description="`usage` is the usage query for the last `days` days grouped by `group_by`; `forecast` is the "
          "month's forecast against the first unscoped monthly budget alert; `movers` compares the last `days` "
          "days with the `days` before them.")
def summary(ctx: Ctx, workspace_id: str) -> dict:
    return dashboard.summary(ctx.membership, ctx.query.days, ctx.query.group_by)
