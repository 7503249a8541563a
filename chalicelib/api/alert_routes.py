"""Alerts: rules (threshold, budget, forecast overrun, spike, connection failure) with their
channels, pause/resume, a test send, the history of firings with acknowledge and snooze, and each
member's opt-in digest."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Email, Name, Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

alerts = lazy("chalicelib.services.alerts")

bp = Blueprint(__name__)

BASE = "/api/workspaces/{workspace_id}/alerts"
Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ScopeIn(Strict):
    dimension: Literal["provider", "model", "project", "feature", "customer"]
    value: Value


class PeriodIn(Strict):
    kind: Literal["daily", "weekly", "monthly", "rolling"]
    days: Annotated[int, Field(ge=1, le=90)] | None = Field(None, description="rolling periods only")


class ChannelIn(Strict):
    type: Literal["email", "slack", "discord", "webhook", "sms"]
    to: list[Email] | None = Field(None, max_length=10, description="email: workspace members (default: you)")
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None = Field(
        None, description="slack/discord incoming webhook URL, or your endpoint (https; signed with HMAC-SHA256)")
    number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        None, description="sms: a number verified in the workspace, in E.164 (+14155550123)")


class RuleFields(Strict):
    amount: Amount | None = Field(None, description="threshold, or the budget of budget/forecast alerts")
    currency: Currency | None = None
    period: PeriodIn | None = None
    scope: ScopeIn | None = Field(None, description="omit for all spend")
    levels: list[Annotated[int, Field(ge=1, le=1000)]] | None = Field(None, max_length=10,
                                                                      description="budget: percent levels")
    probability: Annotated[float, Field(gt=0, lt=1)] | None = Field(None, description="forecast: notify at this chance")
    sensitivity: Annotated[float, Field(gt=0, lt=1)] | None = Field(None, description="spike: detector score threshold")
    min_excess: Annotated[Decimal, Field(ge=0, le=10**9, max_digits=18, decimal_places=6)] | None = Field(
        None, description="spike: fire once the spend above expected since the spike began reaches this (default 1; "
        "0 fires on every spike)")
    connection_id: Value | None = Field(None, description="connection: one connection (default: all)")
    failing_minutes: Annotated[int, Field(ge=5, le=10080)] | None = None
    auto_disable_key: bool | None = Field(None, description="spike: disable the API key that drove it (Anthropic: "
                                          "reversible)")
    auto_delete_openai_key: bool | None = Field(None, description="spike, with auto_disable_key: also delete an "
                                                "OpenAI key automatically (permanent)")


class NewAlert(RuleFields):
    name: Name
    kind: Literal["threshold", "budget", "forecast", "spike", "connection"]
    channels: list[ChannelIn] = Field(min_length=1, max_length=5)


class AlertUpdate(RuleFields):
    name: Name | None = None
    kind: Literal["threshold", "budget", "forecast", "spike", "connection"] | None = None
    channels: list[ChannelIn] | None = Field(None, min_length=1, max_length=5)


class HistoryQuery(Strict):
    alert_id: Value | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    before: Value | None = Field(None, description="the next_before of the previous page")


class Snooze(Strict):
    minutes: Annotated[int, Field(ge=5, le=60 * 24 * 30)]


class DigestIn(Strict):
    frequency: Literal["off", "daily", "weekly"]


def _spec(body: RuleFields) -> dict:
    data = body.model_dump(exclude_none=True)
    for money in ("amount", "min_excess"):
        if money in data:
            data[money] = str(data[money])
    return data


@endpoint(bp, BASE, "GET", summary="List alerts", tag="alerts", permission=Permission.READ)
def list_alerts(ctx: Ctx, workspace_id: str) -> dict:
    return {"alerts": alerts.list_for(ctx.membership)}


@endpoint(bp, BASE, "POST", summary="Create an alert (a webhook channel's signing secret is shown once)",
          tag="alerts", permission=Permission.MANAGE_ALERTS, body=NewAlert, status=201)
def create_alert(ctx: Ctx, workspace_id: str) -> dict:
    return alerts.create(ctx.membership, _spec(ctx.body))


@endpoint(bp, BASE + "/history", "GET", summary="Alert history: every firing and its deliveries, newest first",
          tag="alerts", permission=Permission.READ, query=HistoryQuery)
def alert_history(ctx: Ctx, workspace_id: str) -> dict:
    q = ctx.query
    return alerts.history(ctx.membership, alert_id=q.alert_id, limit=q.limit, before=q.before)


@endpoint(bp, BASE + "/history/{firing_id}/acknowledge", "POST", summary="Acknowledge a firing", tag="alerts",
          permission=Permission.MANAGE_ALERTS)
def acknowledge_firing(ctx: Ctx, workspace_id: str, firing_id: str) -> dict:
    return alerts.acknowledge(ctx.membership, firing_id)


@endpoint(bp, BASE + "/history/{firing_id}/snooze", "POST", summary="Acknowledge a firing and mute its alert",
          tag="alerts", permission=Permission.MANAGE_ALERTS, body=Snooze)
def snooze_firing(ctx: Ctx, workspace_id: str, firing_id: str) -> dict:
    return alerts.snooze(ctx.membership, firing_id, ctx.body.minutes)


@endpoint(bp, BASE + "/{alert_id}", "GET", summary="An alert", tag="alerts", permission=Permission.READ)
def get_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> dict:
    return alerts.view(alerts.get(workspace_id, alert_id))


@endpoint(bp, BASE + "/{alert_id}", "PATCH", summary="Change an alert (channels given replace all channels)",
          tag="alerts", permission=Permission.MANAGE_ALERTS, body=AlertUpdate)
def update_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> dict:
    return alerts.update(ctx.membership, alert_id, _spec(ctx.body))


@endpoint(bp, BASE + "/{alert_id}", "DELETE", summary="Delete an alert (its history stays)", tag="alerts",
          permission=Permission.MANAGE_ALERTS)
def delete_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> None:
    alerts.delete(ctx.membership, alert_id)


@endpoint(bp, BASE + "/{alert_id}/pause", "POST", summary="Pause an alert", tag="alerts",
          permission=Permission.MANAGE_ALERTS)
def pause_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> dict:
    return alerts.set_status(ctx.membership, alert_id, "paused")


@endpoint(bp, BASE + "/{alert_id}/resume", "POST", summary="Resume an alert (counts against the plan)",
          tag="alerts", permission=Permission.MANAGE_ALERTS)
def resume_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> dict:
    return alerts.set_status(ctx.membership, alert_id, "active")


@endpoint(bp, BASE + "/{alert_id}/test", "POST", summary="Send a test notification to every channel now",
          tag="alerts", permission=Permission.MANAGE_ALERTS)
def test_alert(ctx: Ctx, workspace_id: str, alert_id: str) -> dict:
    return alerts.send_test(ctx.membership, alert_id)


@endpoint(bp, "/api/workspaces/{workspace_id}/digest", "GET", summary="Your digest email setting", tag="alerts",
          permission=Permission.READ)
def get_digest(ctx: Ctx, workspace_id: str) -> dict:
    return alerts.digest_settings(ctx.membership)


@endpoint(bp, "/api/workspaces/{workspace_id}/digest", "PUT", summary="Opt in to (or out of) a daily or weekly digest",
          tag="alerts", permission=Permission.READ, body=DigestIn)
def set_digest(ctx: Ctx, workspace_id: str) -> dict:
    return alerts.set_digest(ctx.membership, ctx.body.frequency)
