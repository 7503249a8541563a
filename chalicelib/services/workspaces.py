"""Workspaces, memberships and the role check every workspace route goes through.

The last-owner rule lives in DynamoDB: the workspace item counts its owners, and every change that
removes an owner decrements that count in the same transaction under ``owner_count > 1``.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.domain.identity import new_id
from chalicelib.domain.plans import Limit
from chalicelib.domain.roles import Permission, Role, allows, can_manage_member
from chalicelib.errors import AlreadyExists, Conflict, Forbidden, LastOwner, NotFound
from chalicelib.services import counters, plan_limits, workspace_purge
from chalicelib.services.accounts import Principal, normalized_email
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import Membership, User, Workspace


def require(principal: Principal, workspace_id: str, permission: Permission) -> Membership:
    """The caller's membership if it grants ``permission``; a non-member learns nothing (404)."""
    return check(membership(principal, workspace_id), permission)


def membership(principal: Principal, workspace_id: str) -> Membership | None:
    """The caller's membership of the workspace (consistent: a removal counts at once), if any."""
    try:
        return Membership.get(workspace_id, principal.user_id, consistent_read=True)
    except DoesNotExist:
        return None


def check(membership: Membership | None, permission: Permission) -> Membership:
    """``require`` on a membership read already (``None``: not a member)."""
    if membership is None:
        raise NotFound("workspace not found")
    if not allows(membership.role, permission):
        raise Forbidden(f"your role ({membership.role}) does not allow {permission.value}")
    return membership


def _workspace_view(workspace: Workspace, role: str) -> dict:
    return {
        "workspace_id": workspace.workspace_id,
        "name": workspace.name,
        "role": role,
        "created_at": workspace.created_at.isoformat(),
    }


def list_for_user(principal: Principal) -> list[dict]:
    memberships = list(Membership.by_user.query(principal.user_id))
    if not memberships:
        return []
    roles = {m.workspace_id: m.role for m in memberships}
    found = Workspace.batch_get(list(roles))
    return sorted((_workspace_view(w, roles[w.workspace_id]) for w in found), key=lambda w: w["created_at"])


def create(principal: Principal, name: str) -> dict:
    workspace = Workspace(new_id("ws"), name=name, created_by=principal.user_id, owner_count=1, **counters.initial())
    membership = Membership(workspace.workspace_id, principal.user_id, role=Role.OWNER.value, email=principal.email)
    with transaction() as t:
        t.save(workspace, condition=Workspace.workspace_id.does_not_exist())
        t.save(membership)
    return _workspace_view(workspace, Role.OWNER.value)


def get(membership: Membership) -> dict:
    return _workspace_view(_load(membership.workspace_id), membership.role)


def rename(membership: Membership, name: str) -> dict:
    workspace = _load(membership.workspace_id)
    workspace.update(actions=[Workspace.name.set(name)], condition=Workspace.workspace_id.exists())
    return _workspace_view(workspace, membership.role)


def delete(membership: Membership) -> None:
    """Cancels the workspace's subscription and removes everything it owns (services.workspace_purge)."""
    workspace_purge.delete_workspace(membership.workspace_id)


def _load(workspace_id: str) -> Workspace:
    try:
        return Workspace.get(workspace_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("workspace not found") from None


def _member_view(m: Membership) -> dict:
    return {"user_id": m.user_id, "email": m.email, "role": m.role, "joined_at": m.joined_at.isoformat()}


def list_members(membership: Membership) -> list[dict]:
    return [_member_view(m) for m in Membership.query(membership.workspace_id)]


def invite(actor: Membership, raw_email: str, role: Role) -> dict:
    """Adds an existing user by email."""
    email = normalized_email(raw_email)
    if role is Role.OWNER and not allows(actor.role, Permission.MANAGE_ROLES):
        raise Forbidden("only owners can add owners")
    try:
        user = User.get(email)
    except DoesNotExist:
        raise NotFound("no user with this email; ask them to sign up first", field="email") from None
    if Membership.count(actor.workspace_id, Membership.user_id == user.user_id, consistent_read=True):
        raise AlreadyExists("this user is already a member", field="email")
    plan_limits.check_can_add_member(actor.workspace_id, user.user_id)  # fail fast; the counter enforces
    member = Membership(actor.workspace_id, user.user_id, role=role.value, email=user.email)
    try:
        counters.change(actor.workspace_id, Limit.MEMBERS, +1,
                        lambda t: t.save(member, condition=Membership.user_id.does_not_exist()),
                        actions=[Workspace.owner_count.add(1)] if role is Role.OWNER else [])
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)) and Membership.count(actor.workspace_id, Membership.user_id == user.user_id):
            raise AlreadyExists("this user is already a member", field="email") from e
        raise
    return _member_view(member)


def _target(workspace_id: str, user_id: str) -> Membership:
    try:
        return Membership.get(workspace_id, user_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("member not found") from None


def change_role(actor: Membership, user_id: str, role: Role) -> dict:
    target = _target(actor.workspace_id, user_id)
    old = Role(target.role)
    if old is role:
        return _member_view(target)
    with _owner_change(actor.workspace_id, old, role) as t:
        t.update(target, actions=[Membership.role.set(role.value)], condition=Membership.role == old.value)
    target.role = role.value
    return _member_view(target)


def remove(actor: Membership, user_id: str) -> None:
    """Removes a member; anyone may remove themselves (leave), subject to the last-owner rule."""
    target = _target(actor.workspace_id, user_id)
    if user_id != actor.user_id and (
        not allows(actor.role, Permission.MANAGE_MEMBERS) or not can_manage_member(actor.role, target.role)
    ):
        raise Forbidden(f"your role ({actor.role}) cannot remove a {target.role}")
    old = Role(target.role)
    try:
        counters.change(actor.workspace_id, Limit.MEMBERS, -1,
                        lambda t: t.delete(target, condition=Membership.role == target.role),
                        actions=[Workspace.owner_count.add(-1)] if old is Role.OWNER else [],
                        condition=(Workspace.owner_count > 1) if old is Role.OWNER else None)
    except TransactWriteError as e:
        _explain(e, actor.workspace_id, old)


def _explain(e: TransactWriteError, workspace_id: str, old: Role) -> None:
    """Why a membership transaction was cancelled (always raises)."""
    if not any(cancelled_by_condition(e)):
        raise e
    # PynamoDB sends items grouped by operation, so re-read rather than trust positions.
    if old is Role.OWNER and _load(workspace_id).owner_count <= 1:
        raise LastOwner("a workspace must keep at least one owner") from e
    raise Conflict("the membership changed meanwhile; reload and retry") from e


class _owner_change:
    """A transaction that also keeps ``owner_count`` right when a membership gains or loses ownership."""

    def __init__(self, workspace_id: str, old: Role, new: Role | None):
        self.workspace_id, self.old, self.new = workspace_id, old, new
        self.tx = transaction()

    def __enter__(self):
        t = self.tx.__enter__()
        workspace = Workspace(self.workspace_id)
        if self.old is Role.OWNER and self.new is not Role.OWNER:
            t.update(workspace, actions=[Workspace.owner_count.add(-1)], condition=Workspace.owner_count > 1)
        elif self.new is Role.OWNER and self.old is not Role.OWNER:
            t.update(workspace, actions=[Workspace.owner_count.add(1)], condition=Workspace.workspace_id.exists())
        return t

    def __exit__(self, exc_type, exc, tb):
        try:
            return self.tx.__exit__(exc_type, exc, tb)
        except TransactWriteError as e:
            _explain(e, self.workspace_id, self.old)
