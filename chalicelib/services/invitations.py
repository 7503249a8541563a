"""Invitations by email: an admin or owner invites an address into a workspace with a role.

The invitee gets a single-use link that expires (store.account_links). Without an account they
sign up through it (``signup``: the account, verified, and the membership, no workspace of their
own); with one they log in and accept it (``accept``, for the invited address only). Pending
invitations are listed and can be revoked; inviting the same address again replaces its invitation.

The member limit is enforced when an invitation is *accepted*, atomically, by the member counter's
condition in the transaction that creates the membership (services.counters). Pending invitations do
not count: a seat is what the plan limits and what costs, invitations expire by themselves (TTL
cannot decrement a counter, so counting them would drift), and an owner may invite more people than
seats left and let whoever answers first take them. Inviting into a full workspace is refused at
once all the same (a fail-fast check), so nobody is sent a link that cannot work.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import config
from chalicelib.domain import identity
from chalicelib.domain.identity import new_id
from chalicelib.domain.plans import Limit
from chalicelib.domain.roles import Permission, Role, allows
from chalicelib.errors import AlreadyExists, Forbidden, NotFound, ValidationFailed
from chalicelib.services import account_links, account_mail, counters, mail_throttle, passwords, plan_limits
from chalicelib.store.account_links import AccountLink
from chalicelib.store.base import cancelled_by_condition
from chalicelib.store.identity import Membership, User, Workspace

log = logging.getLogger("costpilot.invitations")

TTL_DAYS = 7
PAGE = "/app/invitation"


def _email(raw: str) -> str:
    try:
        return identity.normalize_email(raw)
    except ValueError as e:
        raise ValidationFailed(str(e), field="email") from e


def _view(link: AccountLink) -> dict:
    return {"invitation_id": link.invitation_id, "email": link.email, "role": link.role,
            "invited_by": link.invited_by, "created_at": link.created_at.isoformat(),
            "expires_at": link.expires_at.isoformat()}


def _pending(workspace_id: str, now: float) -> list[AccountLink]:
    return [x for x in AccountLink.by_workspace.query(workspace_id)
            if x.kind == account_links.INVITATION and x.expires_at.timestamp() > now]


def _is_member(workspace_id: str, email: str) -> bool:
    return any(m.email.lower() == email for m in Membership.query(workspace_id, consistent_read=True))


def create(actor: Membership, raw_email: str, role: Role, client: str | None, now: float | None = None) -> dict:
    now = now or time.time()
    email = _email(raw_email)
    if role is Role.OWNER and not allows(actor.role, Permission.MANAGE_ROLES):
        raise Forbidden("only owners can invite owners")
    if _is_member(actor.workspace_id, email):
        raise AlreadyExists("this address is already a member", field="email")
    plan_limits.check_can_add_member(actor.workspace_id)  # fail fast; accepting enforces it atomically
    mail_throttle.charge(account_links.INVITATION, email, client, int(now))
    for old in _pending(actor.workspace_id, now):
        if old.email == email:
            old.delete()
    workspace = Workspace.get(actor.workspace_id)
    secret, link = account_links.issue(account_links.INVITATION, email, TTL_DAYS * 86400, now=now,
                                       workspace_id=actor.workspace_id, invitation_id=f"inv_{uuid.uuid4().hex[:20]}",
                                       role=role.value, invited_by=actor.email)
    account_mail.invitation(email, account_links.url(PAGE, secret, config.public_url()), workspace.name,
                            actor.email, TTL_DAYS)
    log.info("invitation %s to %s sent", link.invitation_id, actor.workspace_id)
    return _view(link)


def list_pending(workspace_id: str, now: float | None = None) -> list[dict]:
    return sorted((_view(x) for x in _pending(workspace_id, now or time.time())), key=lambda v: v["created_at"])


def revoke(workspace_id: str, invitation_id: str) -> None:
    for x in AccountLink.by_workspace.query(workspace_id):
        if x.kind == account_links.INVITATION and x.invitation_id == invitation_id:
            x.delete()
            return
    raise NotFound("no such invitation", field="invitation_id")


def preview(secret: str, now: float | None = None) -> dict:
    """What the landing page shows before the invitee signs up or accepts."""
    link = account_links.peek(account_links.INVITATION, secret, now=now)
    try:
        workspace = Workspace.get(link.workspace_id)
    except DoesNotExist:
        raise ValidationFailed(account_links.INVALID, field="token") from None
    return {"email": link.email, "role": link.role, "workspace_id": link.workspace_id, "workspace_name": workspace.name,
            "invited_by": link.invited_by, "expires_at": link.expires_at.isoformat()}


def _join(link: AccountLink, user_id: str, extra_writes: list | None = None) -> None:
    """The membership (and ``extra_writes``) in one transaction with the member counter's +1."""
    role = Role(link.role)
    member = Membership(link.workspace_id, user_id, role=role.value, email=link.email)

    def writes(t) -> None:
        for item, condition in extra_writes or []:
            t.save(item, condition=condition)
        t.save(member, condition=Membership.user_id.does_not_exist())

    counters.change(link.workspace_id, Limit.MEMBERS, +1, writes,
                    actions=[Workspace.owner_count.add(1)] if role is Role.OWNER else [])


def _used(secret: str) -> None:
    with contextlib.suppress(ValidationFailed):  # revoked or used at the same instant: the membership stands
        account_links.redeem(account_links.INVITATION, secret)


def accept(user_id: str, email: str, secret: str, now: float | None = None) -> dict:
    """The signed-in invitee joins (the invitation names their address)."""
    link = account_links.peek(account_links.INVITATION, secret, now=now)
    if link.email != email.lower():
        raise Forbidden("this invitation is for another email address; log in with that one", field="token")
    try:
        _join(link, user_id)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)) and Membership.count(link.workspace_id, Membership.user_id == user_id):
            _used(secret)
            raise AlreadyExists("you are already a member of this workspace", field="token") from e
        raise
    _used(secret)
    User(email.lower()).update(actions=[User.email_verified.set(True)])  # the link came to this address
    return {"workspace_id": link.workspace_id, "role": link.role}


def signup(secret: str, password: str, now: float | None = None) -> dict:
    """An account for the invited address, already verified, in the workspace (no workspace of its own)."""
    problem = identity.password_problem(password, passwords.MIN_LENGTH, passwords.MAX_LENGTH)
    if problem:
        raise ValidationFailed(f"password {problem}", field="password")
    link = account_links.peek(account_links.INVITATION, secret, now=now)
    user = User(link.email, user_id=new_id("usr"), password_hash=passwords.hash_password(password), email_verified=True)
    try:
        _join(link, user.user_id, [(user, User.email.does_not_exist())])
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)) and User.count(link.email, consistent_read=True):
            raise AlreadyExists("an account with this email exists; log in to accept the invitation",
                                field="email") from e
        raise
    _used(secret)
    return {"user_id": user.user_id, "email": user.email, "workspace_id": link.workspace_id}
