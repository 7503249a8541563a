"""Billing: the workspace's plan and usage, Stripe Checkout and Customer Portal, the owner's choice of
what stays active, and the Stripe webhook."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

billing_checkout = lazy("chalicelib.services.billing_checkout")
billing_overview = lazy("chalicelib.services.billing_overview")
billing_reconcile = lazy("chalicelib.services.billing_reconcile")
billing_events = lazy("chalicelib.services.billing_events")

bp = Blueprint(__name__)

BASE = "/api/workspaces/{workspace_id}/billing"
ItemId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class CheckoutBody(Strict):
    plan: Literal["pro", "team"]


class KeepBody(Strict):
    connection_ids: list[ItemId] | None = Field(None, max_length=200, description="connections to keep active")
    alert_rule_ids: list[ItemId] | None = Field(None, max_length=500, description="alert rules to keep active")


@endpoint(bp, BASE, "GET", summary="Plan, subscription, notices and usage against each limit", tag="billing",
          permission=Permission.READ)
def get_billing(ctx: Ctx, workspace_id: str) -> dict:
    return billing_overview.overview(workspace_id)


@endpoint(bp, BASE + "/checkout", "POST", summary="Open a Stripe Checkout for a paid plan (owners)",
          tag="billing", permission=Permission.MANAGE_BILLING, body=CheckoutBody)
def checkout(ctx: Ctx, workspace_id: str) -> dict:
    return billing_checkout.start_checkout(workspace_id, ctx.body.plan)


@endpoint(bp, BASE + "/portal", "POST", summary="Open the Stripe Customer Portal (owners)", tag="billing",
          permission=Permission.MANAGE_BILLING)
def portal(ctx: Ctx, workspace_id: str) -> dict:
    return billing_checkout.open_portal(workspace_id)


@endpoint(bp, BASE + "/keep", "POST", summary="Choose what stays active when over the plan's limits (owners)",
          tag="billing", permission=Permission.MANAGE_BILLING, body=KeepBody)
def keep(ctx: Ctx, workspace_id: str) -> dict:
    return billing_reconcile.keep(workspace_id, ctx.body.connection_ids, ctx.body.alert_rule_ids)


@endpoint(bp, "/api/stripe/webhook", "POST", summary="Stripe webhook (signed with the stage's endpoint secret)",
          tag="billing", auth=False, raw_body=True)
def stripe_webhook(ctx: Ctx) -> dict:
    request = ctx.request
    return billing_events.handle(request.raw_body or b"", request.headers.get("stripe-signature"))
