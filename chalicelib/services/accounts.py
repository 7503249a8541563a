"""Sign-up, login, logout and token authentication."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import config
from chalicelib.domain import identity
from chalicelib.domain.roles import Role
from chalicelib.errors import AlreadyExists, Unauthenticated, ValidationFailed
from chalicelib.lazy import lazy
from chalicelib.services import email_verification, login_throttle, passwords, sessions_list, tokens
from chalicelib.store.base import cancelled_by_condition, read_together, transaction
from chalicelib.store.identity import Membership, Session, User, Workspace

counters = lazy("chalicelib.services.counters")  # sign-up only: kept off every request's imports


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: str
    email: str
    session_id: str
    created_at: datetime | None = None  # the account's, when the session carries it


def normalized_email(raw: str) -> str:
    try:
        return identity.normalize_email(raw)
    except ValueError as e:
        raise ValidationFailed(str(e), field="email") from e


def signup(raw_email: str, password: str, workspace_name: str | None = None) -> dict:
    """Creates the user, a first workspace and the owner membership in one transaction."""
    email = normalized_email(raw_email)
    problem = identity.password_problem(password, passwords.MIN_LENGTH, passwords.MAX_LENGTH)
    if problem:
        raise ValidationFailed(f"password {problem}", field="password")
    user = User(email, user_id=identity.new_id("usr"), password_hash=passwords.hash_password(password),
                email_verified=False)
    workspace = Workspace(identity.new_id("ws"), name=workspace_name or "My workspace", created_by=user.user_id,
                          owner_count=1, **counters.initial())  # counted from the start (billing reads them)
    membership = Membership(workspace.workspace_id, user.user_id, role=Role.OWNER.value, email=email)
    try:
        with transaction() as t:
            t.save(user, condition=User.email.does_not_exist())
            t.save(workspace, condition=Workspace.workspace_id.does_not_exist())
            t.save(membership)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)) and User.count(email, consistent_read=True):
            raise AlreadyExists("an account with this email already exists", field="email") from e
        raise
    email_verification.send_link(email)
    return {"user_id": user.user_id, "email": email, "workspace_id": workspace.workspace_id}


def login(raw_email: str, password: str, client: str | None = None, user_agent: str | None = None) -> dict:
    """A token for the right password. ``client`` is the caller's address (API Gateway's source IP);
    attempts are throttled per client and account (services.login_throttle), and an unknown email
    costs the same work and gets the same answers as a wrong password."""
    email = normalized_email(raw_email)
    now = int(time.time())
    window = login_throttle.charge(client or "unknown", email, now)
    try:
        user = User.get(email, consistent_read=True)
    except DoesNotExist:
        user = None
    if user is None:
        passwords.burn_equal_time(password)
        raise Unauthenticated("invalid email or password")
    if not passwords.verify_password(user.password_hash, password):
        raise Unauthenticated("invalid email or password")
    login_throttle.succeeded(window)
    expires_at = now + config.token_ttl_seconds()
    session = Session(
        secrets.token_urlsafe(24), user_id=user.user_id, expires_at=datetime.fromtimestamp(expires_at, UTC),
        user_agent=sessions_list.clean_user_agent(user_agent), user_created_at=user.created_at,
    )
    session.save(condition=Session.session_id.does_not_exist())
    token = tokens.issue(user.user_id, email, session.session_id, expires_at)
    return {"token": token, "token_type": "Bearer", "expires_at": expires_at, "user_id": user.user_id}


def authenticate(authorization: str | None) -> Principal:
    """The caller of a bearer token whose session still exists (logout deletes it)."""
    return authenticate_in(authorization, None)[0]


def authenticate_in(authorization: str | None, workspace_id: str | None) -> tuple[Principal, Membership | None]:
    """``authenticate``, and with ``workspace_id`` the caller's membership of that workspace (``None``:
    not a member) read in the same request as the session: one TransactGetItems, both items strongly
    consistent, so a logout, a removed member or a changed role counts on the very next request."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("missing bearer token")
    claims = tokens.verify(authorization.removeprefix("Bearer ").strip())
    membership: Membership | None = None
    if workspace_id is None:
        try:
            session: Session | None = Session.get(claims.session_id, consistent_read=True)
        except DoesNotExist:
            session = None
    else:
        with read_together() as t:
            session_future = t.get(Session, claims.session_id)
            membership_future = t.get(Membership, workspace_id, claims.user_id)
        session, membership = _found(session_future), _found(membership_future)
    if session is None or session.user_id != claims.user_id or int(session.expires_at.timestamp()) < int(time.time()):
        raise Unauthenticated("session ended; log in again")
    sessions_list.seen(session)
    return Principal(claims.user_id, claims.email, claims.session_id, session.user_created_at), membership


def _found(future: Any) -> Any:
    try:
        return future.get()
    except DoesNotExist:
        return None


def logout(principal: Principal) -> None:
    Session(principal.session_id).delete()


def me(principal: Principal) -> dict:
    """The caller's account (GET /api/me adds their workspaces: ``workspaces.list_for_user``)."""
    if principal.created_at is not None:  # a login session carries it (the email and id are the token's)
        return {"user_id": principal.user_id, "email": principal.email, "created_at": principal.created_at.isoformat()}
    user = User.get(principal.email)
    return {"user_id": user.user_id, "email": user.email, "created_at": user.created_at.isoformat()}
