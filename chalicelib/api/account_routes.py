"""Accounts a team can live with: email verification, forgotten and changed passwords, one's
sessions, invitations by email. Views parse, call one service, answer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from chalice import Blueprint, Response
from pydantic import BaseModel, StringConstraints

from chalicelib.api import web_session
from chalicelib.api.http import JSON_HEADERS, Ctx, endpoint
from chalicelib.api.schemas import Email, Password, Strict
from chalicelib.domain.roles import Permission, Role
from chalicelib.lazy import lazy

email_verification = lazy("chalicelib.services.email_verification")
invitations = lazy("chalicelib.services.invitations")
password_reset = lazy("chalicelib.services.password_reset")
sessions_list = lazy("chalicelib.services.sessions_list")

bp = Blueprint(__name__)

LinkToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TokenBody(Strict):
    token: LinkToken


class EmailBody(Strict):
    email: Email


class ResetBody(Strict):
    token: LinkToken
    password: Password


class ChangePasswordBody(Strict):
    current_password: Password
    new_password: Password


class InvitationBody(Strict):
    email: Email
    role: Role = Role.MEMBER


class InvitedSignupBody(Strict):
    token: LinkToken
    password: Password


class Verification(BaseModel):
    email: str
    email_verified: bool
    sent: bool | None = None


class PasswordSet(BaseModel):
    email: str
    sessions_ended: int


class SessionView(BaseModel):
    ref: str
    created_at: str
    last_seen_at: str
    expires_at: str
    user_agent: str | None
    current: bool


class Sessions(BaseModel):
    sessions: list[SessionView]


class Invitation(BaseModel):
    invitation_id: str
    email: str
    role: str
    invited_by: str | None
    created_at: str
    expires_at: str


class Invitations(BaseModel):
    invitations: list[Invitation]


class InvitationPreview(BaseModel):
    email: str
    role: str
    workspace_id: str
    workspace_name: str
    invited_by: str | None
    expires_at: str


class Joined(BaseModel):
    workspace_id: str
    role: str


class InvitedSignedUp(BaseModel):
    user_id: str
    email: str
    workspace_id: str


def _client(ctx: Ctx) -> str | None:
    return ((ctx.request.context or {}).get("identity") or {}).get("sourceIp")


def _logged_out(payload: Any | None = None) -> Response:
    """The answer when the caller's own session just ended: the dashboard's cookies are cleared."""
    if payload is None:
        return Response(body="", status_code=204, headers={"Cache-Control": "no-store",
                                                           "Set-Cookie": web_session.logout_cookies()})
    return Response(body=json.dumps(payload), status_code=200,
                    headers={**JSON_HEADERS, "Set-Cookie": web_session.logout_cookies()})


# --- email verification ---------------------------------------------------------------------------


@endpoint(bp, "/api/auth/email-verification", "GET", summary="Whether my email address is verified", tag="account",
          response=Verification)
def verification_status(ctx: Ctx) -> dict:
    return email_verification.status(ctx.principal.email)


@endpoint(bp, "/api/auth/email-verification", "POST", summary="Send me a new verification link", tag="account",
          response=Verification, description="Rate-limited per address and client (429 with Retry-After). "
          "Unverified accounts receive no alert email.")
def resend_verification(ctx: Ctx) -> dict:
    return email_verification.resend(ctx.principal.email, _client(ctx))


@endpoint(bp, "/api/auth/verify-email", "POST", summary="Verify an email address with the link's token",
          tag="account", auth=False, body=TokenBody, response=Verification,
          description="The link works once and expires; an invalid, used or expired one answers 400.")
def verify_email(ctx: Ctx) -> dict:
    return email_verification.verify(ctx.body.token)


# --- passwords -----------------------------------------------------------------------------------


@endpoint(bp, "/api/auth/password-reset", "POST", summary="Email a password reset link", tag="account",
          auth=False, body=EmailBody, status=202, response={"type": "object", "properties": {
              "message": {"type": "string"}}, "required": ["message"]},
          description="The same answer whether or not an account has the address; only an account's address "
          "gets the email (a single-use link that expires). Rate-limited per address and client alike.")
def request_password_reset(ctx: Ctx) -> dict:
    return password_reset.request(ctx.body.email, _client(ctx))


@endpoint(bp, "/api/auth/password-reset/confirm", "POST", summary="Set a new password with a reset link",
          tag="account", auth=False, body=ResetBody, response=PasswordSet,
          description="Every session of the account ends (personal API tokens and ingest keys stay).")
def confirm_password_reset(ctx: Ctx) -> Response:
    return _logged_out(password_reset.confirm(ctx.body.token, ctx.body.password))


@endpoint(bp, "/api/auth/password", "POST", summary="Change my password (the current one required)",
          tag="account", body=ChangePasswordBody, response=PasswordSet,
          description="Every session ends, this one included: log in again with the new password. Wrong "
          "current passwords are throttled like logins (429).")
def change_password(ctx: Ctx) -> Response:
    return _logged_out(password_reset.change(ctx.principal.email, ctx.body.current_password,
                                             ctx.body.new_password, _client(ctx)))


# --- sessions ------------------------------------------------------------------------------------


@endpoint(bp, "/api/auth/sessions", "GET", summary="My sessions (one per login)", tag="account", response=Sessions)
def list_sessions(ctx: Ctx) -> dict:
    return {"sessions": sessions_list.list_sessions(ctx.principal.user_id, ctx.principal.session_id)}


@endpoint(bp, "/api/auth/sessions", "DELETE", summary="Log out everywhere (every session, this one too)",
          tag="account", status=204)
def end_all_sessions(ctx: Ctx) -> Response:
    sessions_list.end_all(ctx.principal.user_id)
    return _logged_out()


@endpoint(bp, "/api/auth/sessions/{session_ref}", "DELETE", summary="End one of my sessions", tag="account",
          status=204)
def end_session(ctx: Ctx, session_ref: str) -> Response | None:
    sessions_list.revoke(ctx.principal.user_id, session_ref)
    return _logged_out() if session_ref == sessions_list.ref(ctx.principal.session_id) else None


# --- invitations ---------------------------------------------------------------------------------

INVITES = "/api/workspaces/{workspace_id}/invitations"


@endpoint(bp, INVITES, "GET", summary="Pending invitations", tag="members", permission=Permission.MANAGE_MEMBERS,
          response=Invitations)
def list_invitations(ctx: Ctx, workspace_id: str) -> dict:
    return {"invitations": invitations.list_pending(workspace_id)}


@endpoint(bp, INVITES, "POST", summary="Invite an address by email", tag="members",
          permission=Permission.MANAGE_MEMBERS, body=InvitationBody, status=201, response=Invitation,
          description="The address gets a link that expires: without an account they sign up through it, with "
          "one they log in and accept. Inviting the same address again replaces its invitation. The member "
          "limit is enforced when the invitation is accepted (402 then); pending invitations do not count.")
def create_invitation(ctx: Ctx, workspace_id: str) -> dict:
    return invitations.create(ctx.membership, ctx.body.email, ctx.body.role, _client(ctx))


@endpoint(bp, INVITES + "/{invitation_id}", "DELETE", summary="Revoke a pending invitation", tag="members",
          permission=Permission.MANAGE_MEMBERS)
def revoke_invitation(ctx: Ctx, workspace_id: str, invitation_id: str) -> None:
    invitations.revoke(workspace_id, invitation_id)


@endpoint(bp, "/api/invitations/preview", "POST", summary="What an invitation link is for", tag="members",
          auth=False, body=TokenBody, response=InvitationPreview)
def preview_invitation(ctx: Ctx) -> dict:
    return invitations.preview(ctx.body.token)


@endpoint(bp, "/api/invitations/accept", "POST", summary="Accept an invitation (logged in as the invited address)",
          tag="members", body=TokenBody, response=Joined)
def accept_invitation(ctx: Ctx) -> dict:
    return invitations.accept(ctx.principal.user_id, ctx.principal.email, ctx.body.token)


@endpoint(bp, "/api/invitations/signup", "POST", summary="Sign up through an invitation (lands in the workspace)",
          tag="members", auth=False, body=InvitedSignupBody, status=201, response=InvitedSignedUp)
def signup_invited(ctx: Ctx) -> dict:
    return invitations.signup(ctx.body.token, ctx.body.password)
