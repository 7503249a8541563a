"""What GET .../billing answers: the plan in force, the subscription, any notice, and the usage of
each limit against the plan (the figures come from the store: counted items, this month's events).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from chalicelib import config
from chalicelib.domain import plans
from chalicelib.domain.plans import Limit, Plan
from chalicelib.domain.subscription import LIVE_STATUSES, SubscriptionState, effective_plan
from chalicelib.store import pushed_events
from chalicelib.store.alerts import rules
from chalicelib.store.billing import PAUSABLE, account_of
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership
from chalicelib.store.ingest_keys import IngestKey


def overview(workspace_id: str, now: float | None = None) -> dict:
    """The plan, the subscription, any notice, usage against limits."""
    now = int(now if now is not None else time.time())
    account = account_of(workspace_id)
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
        "usage": _usage(workspace_id, plan, now),
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


def _usage(workspace_id: str, plan: Plan, now: int) -> dict:
    connections = list(Connection.query(workspace_id))
    alert_rules = rules(workspace_id)
    usage_rows: dict[str, dict[str, Any]] = {
        Limit.CONNECTIONS: {"used": len(connections), "active": sum(c.status == "active" for c in connections)},
        Limit.MEMBERS: {"used": Membership.count(workspace_id)},
        Limit.INGEST_KEYS: {"used": sum(k.revoked_at is None for k in IngestKey.by_workspace.query(workspace_id))},
        Limit.ALERT_RULES: {"used": len(alert_rules), "active": sum(r.status == "active" for r in alert_rules)},
        Limit.EVENTS_PER_MONTH: {
            "used": pushed_events.events_this_month(workspace_id, datetime.fromtimestamp(now, UTC))},
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
