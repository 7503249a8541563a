"""Accounts: sign-up, login, logout, me."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import Email, Name, Password, Strict
from chalicelib.lazy import lazy

accounts = lazy("chalicelib.services.accounts")

bp = Blueprint(__name__)


class SignupBody(Strict):
    email: Email
    password: Password
    workspace_name: Name | None = None


class LoginBody(Strict):
    email: Email
    password: Password


class SignedUp(BaseModel):
    user_id: str
    email: str
    workspace_id: str


class Token(BaseModel):
    token: str
    token_type: Literal["Bearer"]
    expires_at: int = Field(description="unix seconds")
    user_id: str


class Me(BaseModel):
    user_id: str
    email: str
    created_at: str
    workspaces: list[dict[str, Any]]


@endpoint(bp, "/api/auth/signup", "POST", summary="Create an account, its first workspace and owner membership",
          tag="auth", auth=False, body=SignupBody, status=201, response=SignedUp)
def signup(ctx: Ctx) -> dict:
    return accounts.signup(ctx.body.email, ctx.body.password, ctx.body.workspace_name)


@endpoint(bp, "/api/auth/login", "POST", summary="Exchange email and password for a bearer token",
          tag="auth", auth=False, body=LoginBody, response=Token,
          description="Failed attempts are throttled per client and account together (429 with Retry-After): "
          "a client that keeps guessing one account is paused, the account's owner elsewhere is not.")
def login(ctx: Ctx) -> dict:
    client = ((ctx.request.context or {}).get("identity") or {}).get("sourceIp")
    return accounts.login(ctx.body.email, ctx.body.password, client=client)


@endpoint(bp, "/api/auth/logout", "POST", summary="Revoke the token used for this call", tag="auth")
def logout(ctx: Ctx) -> None:
    accounts.logout(ctx.principal)


@endpoint(bp, "/api/me", "GET", summary="The caller and their workspaces", tag="auth", response=Me)
def me(ctx: Ctx) -> dict:
    return accounts.me(ctx.principal)
