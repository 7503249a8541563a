"""Personal API tokens of the signed-in user (for the CLI, scripts and the SDK's read functions)."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Name, Strict
from chalicelib.lazy import lazy

api_tokens = lazy("chalicelib.services.api_tokens")

bp = Blueprint(__name__)

BASE = "/api/me/tokens"


class NewToken(Strict):
    name: Name
    scope: Literal["read", "read_write"] = "read"
    expires_in_days: int | None = Field(90, ge=1, le=366, description="null: never expires")


@endpoint(bp, BASE, "GET", summary="Your personal API tokens (ids, scopes, expiry, last use)", tag="auth")
def list_tokens(ctx: Ctx) -> dict:
    return {"tokens": api_tokens.list_tokens(ctx.principal)}


@endpoint(bp, BASE, "POST", summary="Create a personal API token (shown once)", tag="auth", body=NewToken, status=201,
          description="Use it as `Authorization: Bearer cpat_...` on any route your role allows; a `read` token "
          "is refused (403) on anything but reads. Only a login session can create or revoke tokens.")
def create_token(ctx: Ctx) -> dict:
    return api_tokens.create(ctx.principal, ctx.body.name, ctx.body.scope, ctx.body.expires_in_days)


@endpoint(bp, BASE + "/{token_id}", "DELETE", summary="Revoke a personal API token", tag="auth")
def revoke_token(ctx: Ctx, token_id: str) -> dict:
    return api_tokens.revoke(ctx.principal, token_id)
