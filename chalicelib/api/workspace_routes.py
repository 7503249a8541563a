"""Workspaces and their members."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Email, Name, Strict
from chalicelib.domain.roles import Permission, Role
from chalicelib.lazy import lazy

workspaces = lazy("chalicelib.services.workspaces")

bp = Blueprint(__name__)


class WorkspaceBody(Strict):
    name: Name


class InviteBody(Strict):
    email: Email
    role: Role = Role.MEMBER


class RoleBody(Strict):
    role: Role


@endpoint(bp, "/api/workspaces", "GET", summary="List my workspaces", tag="workspaces")
def list_workspaces(ctx: Ctx) -> dict:
    return {"workspaces": workspaces.list_for_user(ctx.principal)}


@endpoint(bp, "/api/workspaces", "POST", summary="Create a workspace (you become its owner)",
          tag="workspaces", body=WorkspaceBody, status=201)
def create_workspace(ctx: Ctx) -> dict:
    return workspaces.create(ctx.principal, ctx.body.name)


@endpoint(bp, "/api/workspaces/{workspace_id}", "GET", summary="A workspace", tag="workspaces",
          permission=Permission.READ)
def get_workspace(ctx: Ctx, workspace_id: str) -> dict:
    return workspaces.get(ctx.membership)


@endpoint(bp, "/api/workspaces/{workspace_id}", "PATCH", summary="Rename a workspace", tag="workspaces",
          permission=Permission.MANAGE_WORKSPACE, body=WorkspaceBody)
def rename_workspace(ctx: Ctx, workspace_id: str) -> dict:
    return workspaces.rename(ctx.membership, ctx.body.name)


@endpoint(bp, "/api/workspaces/{workspace_id}", "DELETE", summary="Delete a workspace (owners only)",
          tag="workspaces", permission=Permission.DELETE_WORKSPACE)
def delete_workspace(ctx: Ctx, workspace_id: str) -> None:
    # Its subscription is cancelled first: Stripe down deletes nothing (StripeUnavailable, 503).
    workspaces.delete(ctx.membership)


@endpoint(bp, "/api/workspaces/{workspace_id}/members", "GET", summary="List members", tag="members",
          permission=Permission.READ)
def list_members(ctx: Ctx, workspace_id: str) -> dict:
    return {"members": workspaces.list_members(ctx.membership)}


@endpoint(bp, "/api/workspaces/{workspace_id}/members", "POST", summary="Add an existing user by email",
          tag="members", permission=Permission.MANAGE_MEMBERS, body=InviteBody, status=201)
def invite_member(ctx: Ctx, workspace_id: str) -> dict:
    return workspaces.invite(ctx.membership, ctx.body.email, ctx.body.role)


@endpoint(bp, "/api/workspaces/{workspace_id}/members/{user_id}", "PATCH", summary="Change a member's role",
          tag="members", permission=Permission.MANAGE_ROLES, body=RoleBody)
def change_role(ctx: Ctx, workspace_id: str, user_id: str) -> dict:
    return workspaces.change_role(ctx.membership, user_id, ctx.body.role)


@endpoint(bp, "/api/workspaces/{workspace_id}/members/{user_id}", "DELETE",
          summary="Remove a member (or leave, with your own id)", tag="members", permission=Permission.READ)
def remove_member(ctx: Ctx, workspace_id: str, user_id: str) -> None:
    workspaces.remove(ctx.membership, user_id)
