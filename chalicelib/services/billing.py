"""The workspace's plan and the checks of its limits. Every limit is read from domain.plans."""

from __future__ import annotations

from chalicelib import config
from chalicelib.domain import plans
from chalicelib.domain.plans import Limit, Plan


def current_plan(workspace_id: str) -> Plan:
    """The plan in force now (Free until a subscription says otherwise)."""
    from chalicelib.store.identity import Workspace

    try:
        workspace = Workspace.get(workspace_id)
    except Workspace.DoesNotExist:
        return plans.FREE
    return plans.get_plan(getattr(workspace, "plan", None) or "free")


def _connections(workspace_id: str, *, active_only: bool) -> int:
    from chalicelib.store.connections import Connection

    return sum(1 for c in Connection.query(workspace_id) if not active_only or c.status == "active")


def check_can_add_connection(workspace_id: str) -> None:
    plans.check_limit(current_plan(workspace_id), Limit.CONNECTIONS, _connections(workspace_id, active_only=False))


def check_can_activate_connection(workspace_id: str) -> None:
    plans.check_limit(current_plan(workspace_id), Limit.CONNECTIONS, _connections(workspace_id, active_only=True))


def check_sync_interval(workspace_id: str, minutes: int) -> None:
    plans.check_value(current_plan(workspace_id), Limit.MIN_SYNC_INTERVAL_MINUTES, minutes)


def default_sync_interval(workspace_id: str) -> int:
    plan = current_plan(workspace_id)
    return max(config.sync_interval_minutes(), plan.limit(Limit.MIN_SYNC_INTERVAL_MINUTES))
