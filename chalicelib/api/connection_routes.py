"""Provider connections: add (key checked, then sealed), list, update, delete, sync now."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Credentials, Name, Strict
from chalicelib.domain.roles import Permission
from chalicelib.lazy import lazy

connections = lazy("chalicelib.services.connections")

bp = Blueprint(__name__)

Provider = Literal["openai", "anthropic", "twilio", "stripe", "aws", "gcp"]
Interval = Annotated[int, Field(ge=1, le=1440)]


class NewConnection(Strict):
    provider: Provider
    label: Name
    credentials: Credentials = Field(
        description="openai/anthropic: admin_key; twilio: account_sid + auth_token (or api_key_sid + "
        "api_key_secret); stripe: api_key (restricted, read balance); aws: access_key_id + "
        "secret_access_key, or role_arn + external_id; gcp: service_account_key (the key file's JSON) or "
        "external_account (a workload identity federation credential configuration for CostPilot's AWS role, "
        "never both) + project + dataset (of the Cloud Billing export)", max_length=4)
    sync_interval_minutes: Interval | None = None


class ConnectionUpdate(Strict):
    label: Name | None = None
    status: Literal["active", "paused"] | None = None
    credentials: Credentials | None = Field(None, max_length=4)
    sync_interval_minutes: Interval | None = None


BASE = "/api/workspaces/{workspace_id}/connections"


@endpoint(bp, BASE, "GET", summary="List connections (never their secrets)", tag="connections",
          permission=Permission.READ)
def list_connections(ctx: Ctx, workspace_id: str) -> dict:
    return {"connections": connections.list_for(ctx.membership)}


@endpoint(bp, BASE, "POST", summary="Connect a provider account (the key is checked first)", tag="connections",
          permission=Permission.MANAGE_CONNECTIONS, body=NewConnection, status=201)
def add_connection(ctx: Ctx, workspace_id: str) -> dict:
    b = ctx.body
    return connections.create(ctx.membership, b.provider, b.label, b.credentials, b.sync_interval_minutes)


@endpoint(bp, BASE + "/{connection_id}", "GET", summary="A connection", tag="connections",
          permission=Permission.READ)
def get_connection(ctx: Ctx, workspace_id: str, connection_id: str) -> dict:
    return connections.view(connections.get(workspace_id, connection_id))


@endpoint(bp, BASE + "/{connection_id}", "PATCH",
          summary="Rename, pause/resume, replace the key or change the interval", tag="connections",
          permission=Permission.MANAGE_CONNECTIONS, body=ConnectionUpdate)
def update_connection(ctx: Ctx, workspace_id: str, connection_id: str) -> dict:
    b = ctx.body
    return connections.update(ctx.membership, connection_id, label=b.label, status=b.status,
                              credentials=b.credentials, sync_interval_minutes=b.sync_interval_minutes)


@endpoint(bp, BASE + "/{connection_id}", "DELETE", summary="Delete a connection (its history stays)",
          tag="connections", permission=Permission.MANAGE_CONNECTIONS)
def delete_connection(ctx: Ctx, workspace_id: str, connection_id: str) -> None:
    connections.delete(ctx.membership, connection_id)


@endpoint(bp, BASE + "/{connection_id}/sync", "POST", summary="Sync now", tag="connections",
          permission=Permission.MANAGE_CONNECTIONS, status=202)
def sync_connection(ctx: Ctx, workspace_id: str, connection_id: str) -> dict:
    return connections.sync_now(ctx.membership, connection_id)
