"""Workspace roles and the one permission table every route is checked against."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Permission(StrEnum):
    READ = "read"  # usage, forecasts, alerts, connections (never secrets), members
    MANAGE_WORKSPACE = "manage_workspace"  # rename
    MANAGE_MEMBERS = "manage_members"  # invite and remove members and admins
    MANAGE_CONNECTIONS = "manage_connections"
    MANAGE_ALERTS = "manage_alerts"
    MANAGE_KEYS = "manage_keys"  # ingest keys
    MANAGE_ROLES = "manage_roles"  # change roles, grant or remove ownership
    MANAGE_BILLING = "manage_billing"
    DELETE_WORKSPACE = "delete_workspace"


_MEMBER = frozenset({Permission.READ})
_ADMIN = _MEMBER | {
    Permission.MANAGE_WORKSPACE,
    Permission.MANAGE_MEMBERS,
    Permission.MANAGE_CONNECTIONS,
    Permission.MANAGE_ALERTS,
    Permission.MANAGE_KEYS,
}
_OWNER = _ADMIN | {Permission.MANAGE_ROLES, Permission.MANAGE_BILLING, Permission.DELETE_WORKSPACE}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: _MEMBER,
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}


def allows(role: Role | str, permission: Permission) -> bool:
    return permission in PERMISSIONS[Role(role)]


def can_manage_member(actor: Role | str, target: Role | str) -> bool:
    """Admins manage members and admins; only owners touch owners."""
    return Role(actor) is Role.OWNER or Role(target) is not Role.OWNER
