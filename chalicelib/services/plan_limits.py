"""The plan in force and the checks of its limits: the bottom of the services floor.

The plan in force is ``domain.subscription.effective_plan`` of the mirrored subscription at the
time of the call, so a cancellation at period end or the end of a payment grace period takes effect
without any event; every limit is read from ``domain.plans``. These checks fail fast before work
starts (a provider call, sealing a key); the counted writes (``services.counters``) are what
enforce. This module imports only the store, the domain and the settings, so every other service
can ask it.
"""

from __future__ import annotations

import time

from chalicelib import config
from chalicelib.domain import plans
from chalicelib.domain.plans import Limit, Plan
from chalicelib.domain.subscription import SubscriptionState, effective_plan
from chalicelib.store.billing import account_of
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership


def subscription_state(workspace_id: str) -> SubscriptionState:
    account = account_of(workspace_id)
    return account.state() if account else SubscriptionState()


def current_plan(workspace_id: str, now: float | None = None) -> Plan:
    """The plan in force now (Free until a subscription says otherwise)."""
    name, _ = effective_plan(subscription_state(workspace_id), int(now if now is not None else time.time()))
    return plans.get_plan(name)


def _connections(workspace_id: str, *, active_only: bool) -> int:
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


def check_can_add_member(workspace_id: str, user_id: str | None = None) -> None:
    """Before an invite. Re-inviting a member is left to the invite, which answers 409."""
    if user_id and Membership.count(workspace_id, Membership.user_id == user_id, consistent_read=True):
        return
    plans.check_limit(current_plan(workspace_id), Limit.MEMBERS, Membership.count(workspace_id, consistent_read=True))


def check_alert_rules(workspace_id: str, active: int) -> None:
    """Before a new alert rule, with ``active`` rules of the workspace active now."""
    plans.check_limit(current_plan(workspace_id), Limit.ALERT_RULES, active)


def check_event_quota(workspace_id: str, events_this_month: int, adding: int) -> None:
    """Before ingesting ``adding`` pushed events (raises ``PlanLimitExceeded``)."""
    plans.check_limit(current_plan(workspace_id), Limit.EVENTS_PER_MONTH, events_this_month, adding)
