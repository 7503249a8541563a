"""Accounts: sign-up, login, logout, me."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, Field

from chalicelib.api import web_session
from chalicelib.api.http import JSON_HEADERS, Ctx, endpoint
from chalicelib.api.schemas import Email, Name, Password, Strict
from chalicelib.lazy import lazy

accounts = lazy("chalicelib.services.accounts")
workspaces = lazy("chalicelib.services.workspaces")

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
    token: str | None = Field(None, description="absent for a cookie session")
    token_type: Literal["Bearer", "cookie"]
    csrf_token: str | None = Field(None, description="a cookie session's CSRF token (send as X-CSRF-Token)")
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
          "a client that keeps guessing one account is paused, the account's owner elsewhere is not. With the "
          "header `X-CostPilot-Session: cookie` (the dashboard) the token goes into an HttpOnly session cookie "
          "instead of the body, and `csrf_token` (also in the `cp_csrf` cookie) must be sent as `X-CSRF-Token` "
          "on every state-changing call made with that cookie.")
def login(ctx: Ctx) -> dict | Response:
    client = ((ctx.request.context or {}).get("identity") or {}).get("sourceIp")
    result = accounts.login(ctx.body.email, ctx.body.password, client=client,
                            user_agent=ctx.request.headers.get("user-agent"))
    if not web_session.wants_cookie(ctx.request):
        return result
    cookies = web_session.login_cookies(result["token"], result["expires_at"], int(time.time()))
    body = {k: v for k, v in result.items() if k != "token"} | {
        "token_type": "cookie", "csrf_token": cookies[1].split(";", 1)[0].split("=", 1)[1]}
    return Response(body=json.dumps(body), status_code=200, headers={**JSON_HEADERS, "Set-Cookie": cookies})


@endpoint(bp, "/api/auth/logout", "POST", summary="Revoke the token (or session cookie) used for this call",
          tag="auth", status=204)
def logout(ctx: Ctx) -> Response:
    accounts.logout(ctx.principal)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store",
                                                       "Set-Cookie": web_session.logout_cookies()})


@endpoint(bp, "/api/me", "GET", summary="The caller and their workspaces", tag="auth", response=Me)
def me(ctx: Ctx) -> dict:
    return {**accounts.me(ctx.principal), "workspaces": workspaces.list_for_user(ctx.principal)}
