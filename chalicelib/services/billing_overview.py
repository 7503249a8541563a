"""What GET .../billing answers: the plan in force, the subscription, any notice, and the usage of
each limit against the plan (the figures come from the store: counted items, this month's events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from chalicelib import config
from chalicelib.domain import plans
from chalicelib.domain.plans import Limit, Plan
from chalicelib.domain.subscription import LIVE_STATUSES, SubscriptionState, effective_plan
from chalicelib.store.alerts import rules
from chalicelib.store.billing import PAUSABLE, overview_items
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership, Workspace
from chalicelib.store.ingest_keys import IngestKey
from chalicelib.store.pushed_events import month_of


def overview(workspace_id: str, now: float | None = None) -> dict:
    """The plan, the subscription, any notice, usage against limits."""
    now = int(now if now is not None else time.time())
    workspace, account, events = overview_items(workspace_id, month_of(datetime.fromtimestamp(now, UTC)))
    state = account.state() if account else SubscriptionState()
    name, notice = effective_plan(state, now)
    plan = plans.get_plan(name)
    return {
        "plan": _plan_view(plan),
        "subscription": None if state.status is None else {
            "plan": state.plan,
            "status": state.status,
            "live": state.status in LIVE_STATUSES,
            "current_period_end": _iso(state.current_period_end),
            "cancel_at_period_end": state.cancel_at_period_end,
            "cancel_at": _iso(state.cancel_at),
            "past_due_since": _iso(state.past_due_since),
        },
        "notice": None if notice is None else {**asdict(notice), "until": _iso(notice.until)},
        "usage": _usage(workspace_id, plan, workspace, events),
        "refused_subscriptions": sorted(account.refused_subscription_ids or []) if account else [],
        "paused_by_plan": {limit.value: list(getattr(account, paused_attr) or []) if account else []
                           for limit, (_, paused_attr) in PAUSABLE.items()},
        "plans": [_plan_view(p) for p in plans.PLANS],
    }


def _plan_view(plan: Plan) -> dict:
    prices = config.stripe_price_ids()
    return {
        "name": plan.name,
        "title": plan.title,
        "price_cents_per_month": plan.price_cents_per_month,
        "purchasable": bool(plan.price_config_key and prices.get(plan.price_config_key)),
        "limits": asdict(plan.limits),
    }


def _usage(workspace_id: str, plan: Plan, workspace: Workspace | None, events: int) -> dict:
    """Usage of each limit: the counters the limits are enforced by (on the workspace item, kept in
    the transactions that change what they count; counted from the items when a counter is missing),
    plus what only the items say (all connections and rules, and how many are active)."""

    def counted(attribute: str, count: Callable[[], int]) -> int:
        value = getattr(workspace, attribute, None) if workspace else None
        return int(value) if value is not None else count()

    connections = list(Connection.query(workspace_id))
    alert_rules = rules(workspace_id)
    usage_rows: dict[str, dict[str, Any]] = {
        Limit.CONNECTIONS: {"used": len(connections), "active": sum(c.status == "active" for c in connections)},
        Limit.MEMBERS: {"used": counted("member_count", lambda: Membership.count(workspace_id))},
        Limit.INGEST_KEYS: {"used": counted("live_ingest_key_count", lambda: sum(
            k.revoked_at is None for k in IngestKey.by_workspace.query(workspace_id)))},
        Limit.ALERT_RULES: {"used": len(alert_rules), "active": sum(r.status == "active" for r in alert_rules)},
        Limit.EVENTS_PER_MONTH: {"used": events},
        Limit.HISTORY_DAYS: {},
        Limit.MIN_SYNC_INTERVAL_MINUTES: {},
    }
    for limit, row in usage_rows.items():
        row["limit"] = plan.limit(limit)
        if row.get("used") is not None:
            row["over_limit"] = row.get("active", row["used"]) > row["limit"]
    return {limit.value: row for limit, row in usage_rows.items()}


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
