"""Accounts: sign-up, login, logout, me."""

from __future__ import annotations

from chalice import Blueprint

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


@endpoint(bp, "/api/auth/signup", "POST", summary="Create an account, its first workspace and owner membership",
          tag="auth", auth=False, body=SignupBody, status=201)
def signup(ctx: Ctx) -> dict:
    return accounts.signup(ctx.body.email, ctx.body.password, ctx.body.workspace_name)


@endpoint(bp, "/api/auth/login", "POST", summary="Exchange email and password for a bearer token",
          tag="auth", auth=False, body=LoginBody,
          description="Failed attempts are throttled per client and account together (429 with Retry-After): "
          "a client that keeps guessing one account is paused, the account's owner elsewhere is not.")
def login(ctx: Ctx) -> dict:
    client = ((ctx.request.context or {}).get("identity") or {}).get("sourceIp")
    return accounts.login(ctx.body.email, ctx.body.password, client=client)


@endpoint(bp, "/api/auth/logout", "POST", summary="Revoke the token used for this call", tag="auth")
def logout(ctx: Ctx) -> None:
    accounts.logout(ctx.principal)


@endpoint(bp, "/api/me", "GET", summary="The caller and their workspaces", tag="auth")
def me(ctx: Ctx) -> dict:
    return accounts.me(ctx.principal)
