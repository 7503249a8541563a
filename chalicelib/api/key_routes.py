"""Stopping a leaked key: what "disable this key" would do for a firing, the request (admins and
owners), and each connection's audit of key actions."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

key_actions = lazy("chalicelib.services.key_actions")

bp = Blueprint(__name__)

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
CONNECTION = "/api/workspaces/{workspace_id}/connections/{connection_id}/key-actions"
FIRING = "/api/workspaces/{workspace_id}/alerts/history/{firing_id}/key-action"


class KeyActionIn(Strict):
    action: Literal["disable", "enable", "delete"] = Field(
        description="anthropic: disable (status inactive) or enable (active); openai: delete (permanent)")
    api_key_id: Id
    project_id: Id | None = Field(None, description="openai: the key's project")
    confirm: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None, description="openai: the key's id typed again (deleting is permanent)")
    firing_id: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(
        None, description="the alert firing that named the key (why)")


class FiringKeyActionIn(Strict):
    confirm: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        None, description="openai: the key's id typed again (deleting is permanent)")


@endpoint(bp, CONNECTION, "GET", summary="The audit of key actions on this connection, newest first",
          tag="connections", permission=Permission.READ)
def list_key_actions(ctx: Ctx, workspace_id: str, connection_id: str) -> dict:
    return key_actions.list_for(ctx.membership, connection_id)


@endpoint(bp, CONNECTION, "POST", summary="Disable, enable or delete a provider API key (runs within seconds)",
          tag="connections", permission=Permission.MANAGE_CONNECTIONS, body=KeyActionIn, status=202)
def request_key_action(ctx: Ctx, workspace_id: str, connection_id: str) -> dict:
    b = ctx.body
    return key_actions.request(ctx.membership, connection_id, b.action, b.api_key_id, project_id=b.project_id,
                               firing_id=b.firing_id, confirm=b.confirm)


@endpoint(bp, FIRING, "GET", summary="What \"disable this key\" would do for a firing", tag="alerts",
          permission=Permission.READ)
def firing_key_offer(ctx: Ctx, workspace_id: str, firing_id: str) -> dict:
    return key_actions.offer(ctx.membership, firing_id)


@endpoint(bp, FIRING, "POST", summary="Disable the API key that drove a firing (OpenAI: delete, confirmed)",
          tag="alerts", permission=Permission.MANAGE_CONNECTIONS, body=FiringKeyActionIn, status=202)
def firing_key_action(ctx: Ctx, workspace_id: str, firing_id: str) -> dict:
    return key_actions.act_on_firing(ctx.membership, firing_id, confirm=ctx.body.confirm)
