"""The workspace's CostPilot subscription: the plan in force, the checks of its limits, checkout and
the customer portal, and pausing what a smaller plan does not cover.

Every limit is read from ``domain.plans``; the plan in force is ``domain.subscription.effective_plan``
of the mirrored subscription at the time of the call, so a cancellation at period end or the end of
a payment grace period takes effect without any event. The Stripe webhook lives in
``services.billing_events``.

A smaller plan never deletes anything: ``reconcile`` pauses the connections (and alert rules) over
the plan's limit, the owner's choice first (``keep``), then the oldest; a bigger plan resumes what
the plan had paused. It runs after each webhook that changes the plan and hourly (the schedule
catches plans that change with time alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from chalicelib import config
from chalicelib.domain import plans
from chalicelib.domain.plans import Limit, Plan
from chalicelib.domain.subscription import SubscriptionState, effective_plan
from chalicelib.errors import Conflict, ValidationFailed

log = logging.getLogger("costpilot.billing")

# Subscriptions in these states still exist at Stripe: a second checkout would bill twice.
_LIVE = frozenset({"active", "trialing", "past_due", "unpaid", "paused", "incomplete"})


class SubscriptionExists(Conflict):
    code = "subscription_exists"


class NoBillingAccount(Conflict):
    code = "no_billing_account"


# ---- the plan in force ------------------------------------------------------------------------

def _account(workspace_id: str):
    from chalicelib.store.billing import BillingAccount

    try:
        return BillingAccount.get(workspace_id, consistent_read=True)
    except BillingAccount.DoesNotExist:
        return None


def subscription_state(workspace_id: str) -> SubscriptionState:
    account = _account(workspace_id)
    return account.state() if account else SubscriptionState()


def current_plan(workspace_id: str, now: float | None = None) -> Plan:
    """The plan in force now (Free until a subscription says otherwise)."""
    name, _ = effective_plan(subscription_state(workspace_id), int(now if now is not None else time.time()))
    return plans.get_plan(name)


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


def check_can_add_member(workspace_id: str, user_id: str | None = None) -> None:
    """Before an invite. Re-inviting a member is left to the invite, which answers 409."""
    from chalicelib.store.identity import Membership

    if user_id and Membership.count(workspace_id, Membership.user_id == user_id, consistent_read=True):
        return
    plans.check_limit(current_plan(workspace_id), Limit.MEMBERS, Membership.count(workspace_id, consistent_read=True))


def check_event_quota(workspace_id: str, events_this_month: int, adding: int) -> None:
    """Before ingesting ``adding`` pushed events (raises ``PlanLimitExceeded``)."""
    plans.check_limit(current_plan(workspace_id), Limit.EVENTS_PER_MONTH, events_this_month, adding)


# ---- overview ---------------------------------------------------------------------------------

def overview(workspace_id: str, now: float | None = None) -> dict:
    """What GET .../billing answers: the plan, the subscription, any notice, usage against limits."""
    now = int(now if now is not None else time.time())
    account = _account(workspace_id)
    state = account.state() if account else SubscriptionState()
    name, notice = effective_plan(state, now)
    plan = plans.get_plan(name)
    return {
        "plan": _plan_view(plan),
        "subscription": None if state.status is None else {
            "plan": state.plan,
            "status": state.status,
            "current_period_end": _iso(state.current_period_end),
            "cancel_at_period_end": state.cancel_at_period_end,
            "cancel_at": _iso(state.cancel_at),
            "past_due_since": _iso(state.past_due_since),
        },
        "notice": None if notice is None else {**asdict(notice), "until": _iso(notice.until)},
        "usage": _usage(workspace_id, plan, now),
        "refused_subscriptions": sorted(account.refused_subscription_ids or []) if account else [],
        "paused_by_plan": {kind.limit.value: list(getattr(account, kind.paused_attr) or []) if account else []
                           for kind in _pausables()},
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
    from chalicelib.store.connections import Connection
    from chalicelib.store.identity import Membership
    from chalicelib.store.ingest_keys import IngestKey

    connections = list(Connection.query(workspace_id))
    store = _alert_rule_store()
    rules = list(store.items(workspace_id).values()) if store else None
    usage: dict[str, dict[str, Any]] = {
        Limit.CONNECTIONS: {"used": len(connections), "active": sum(c.status == "active" for c in connections)},
        Limit.MEMBERS: {"used": Membership.count(workspace_id)},
        Limit.INGEST_KEYS: {"used": sum(k.revoked_at is None for k in IngestKey.by_workspace.query(workspace_id))},
        Limit.ALERT_RULES: {"used": None} if rules is None else {
            "used": len(rules), "active": sum(status == "active" for _, status in rules)},
        Limit.EVENTS_PER_MONTH: {"used": _events_this_month(workspace_id, now)},
        Limit.HISTORY_DAYS: {},
        Limit.MIN_SYNC_INTERVAL_MINUTES: {},
    }
    for limit, row in usage.items():
        row["limit"] = plan.limit(limit)
        if row.get("used") is not None:
            row["over_limit"] = row.get("active", row["used"]) > row["limit"]
    return {limit.value: row for limit, row in usage.items()}


def _events_this_month(workspace_id: str, now: int) -> int | None:
    try:
        from chalicelib.services import ingestion
    except ImportError:  # ingestion not deployed with this build
        return None
    return ingestion.events_this_month(workspace_id, datetime.fromtimestamp(now, UTC))


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


# ---- checkout and portal ----------------------------------------------------------------------

def start_checkout(workspace_id: str, plan_name: str) -> dict:
    """A Stripe Checkout Session for ``plan_name``; the subscription arrives by webhook."""
    from chalicelib.adapters.stripe_gateway import gateway

    plan = plans.get_plan(plan_name)
    price_id = config.stripe_price_ids().get(plan.price_config_key or "")
    if not price_id:
        raise ValidationFailed(f"the {plan.title} plan cannot be bought here", field="plan")
    state = subscription_state(workspace_id)
    if state.status in _LIVE:
        raise SubscriptionExists(
            "this workspace already has a subscription: change, renew or cancel it in the customer portal",
            details={"portal": f"/api/workspaces/{workspace_id}/billing/portal"})
    customer_id = ensure_customer(workspace_id)
    previous = getattr(_account(workspace_id), "checkout_session_id", None)
    if previous:
        _close_checkout(workspace_id, previous, state)
    back = f"{config.public_url()}/?workspace={workspace_id}"
    session = gateway().create_checkout_session(
        customer_id=customer_id, price_id=price_id, workspace_id=workspace_id, plan=plan.name,
        success_url=back + "&checkout=success&session_id={CHECKOUT_SESSION_ID}",
        cancel_url=back + "&checkout=cancelled")
    _remember_checkout(workspace_id, previous, session["id"])
    log.info("checkout %s opened for %s (%s)", session["id"], workspace_id, plan.name)
    return {"url": session["url"], "session_id": session["id"], "plan": plan.name}


def _close_checkout(workspace_id: str, session_id: str, state: SubscriptionState) -> None:
    """Before a new checkout: the one opened before can no longer be paid (expired at Stripe);
    if it was paid and its subscription is not mirrored yet, that one is on its way and no second
    one is sold (a subscription already mirrored has ended, or the caller found it live)."""
    from chalicelib.adapters.stripe_gateway import gateway

    session = gateway().retrieve_checkout_session(session_id)
    if session.get("status") == "open":
        try:
            gateway().expire_checkout_session(session_id)
            return
        except Exception:  # noqa: BLE001 - completed meanwhile? look again below
            session = gateway().retrieve_checkout_session(session_id)
    subscription = session.get("subscription")
    subscription = subscription.get("id") if isinstance(subscription, dict) else subscription
    if session.get("status") == "complete" and subscription and subscription != state.stripe_subscription_id:
        raise SubscriptionExists(
            "a checkout of this workspace was just paid: its subscription is being set up; change the plan "
            "in the customer portal", details={"portal": f"/api/workspaces/{workspace_id}/billing/portal"})


def cancel_for_deletion(workspace_id: str) -> list[str]:
    """Before the workspace is deleted: nothing of it stays billable at Stripe. Expires an open
    checkout, cancels (prorated) every live subscription it knows of; answers the ids cancelled."""
    from chalicelib.adapters.stripe_gateway import gateway

    account = _account(workspace_id)
    if account is None:
        return []
    subscriptions = {account.stripe_subscription_id, *(account.refused_subscription_ids or ())}
    if account.checkout_session_id:
        session = gateway().retrieve_checkout_session(account.checkout_session_id)
        if session.get("status") == "open":
            gateway().expire_checkout_session(account.checkout_session_id)
        subscriptions.add(session.get("subscription"))
    cancelled = []
    for sub_id in sorted(s for s in subscriptions if s):
        if gateway().retrieve_subscription(sub_id).get("status") in ("canceled", "incomplete_expired"):
            continue
        gateway().cancel_subscription(sub_id, idempotency_key=f"costpilot-{config.stage()}-{sub_id}-deleted")
        cancelled.append(sub_id)
        log.info("subscription %s of deleted workspace %s cancelled", sub_id, workspace_id)
    return cancelled


def _remember_checkout(workspace_id: str, previous: str | None, session_id: str) -> None:
    """Stores the open session under a condition on the one it replaces: of two concurrent
    checkouts one is kept and the other's session is expired at once (409)."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.adapters.stripe_gateway import gateway
    from chalicelib.store.base import is_condition_failure
    from chalicelib.store.billing import BillingAccount

    attr = BillingAccount.checkout_session_id
    try:
        BillingAccount(workspace_id).update(actions=[attr.set(session_id)],
                                            condition=(attr == previous) if previous else attr.does_not_exist())
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        gateway().expire_checkout_session(session_id)
        raise Conflict("another checkout of this workspace was opened at the same time; use that one") from None


def ensure_customer(workspace_id: str) -> str:
    """The workspace's Stripe customer id, created once.

    A conditional write marks the create as pending (and fails if an id is stored meanwhile);
    the create's idempotency key is derived from the workspace, so concurrent or retried calls get
    the same customer from Stripe; the id is stored under ``attribute_not_exists``.
    """
    from pynamodb.exceptions import UpdateError

    from chalicelib.adapters.stripe_gateway import gateway
    from chalicelib.store.base import is_condition_failure, utcnow
    from chalicelib.store.billing import BillingAccount

    account = _account(workspace_id)
    if account and account.stripe_customer_id:
        return account.stripe_customer_id
    item = BillingAccount(workspace_id)
    try:
        item.update(actions=[BillingAccount.customer_pending_since.set(utcnow())],
                    condition=BillingAccount.stripe_customer_id.does_not_exist())
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        return _account(workspace_id).stripe_customer_id  # stored meanwhile
    customer_id = gateway().create_customer(
        workspace_id, idempotency_key=f"costpilot-{config.stage()}-{workspace_id}-customer",
        description=f"CostPilot workspace {workspace_id}")
    try:
        item.update(actions=[BillingAccount.stripe_customer_id.set(customer_id),
                             BillingAccount.customer_pending_since.remove()],
                    condition=BillingAccount.stripe_customer_id.does_not_exist()
                    | (BillingAccount.stripe_customer_id == customer_id))
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        stored = _account(workspace_id).stripe_customer_id
        log.error("workspace %s: Stripe created customer %s but %s is stored", workspace_id, customer_id, stored)
        return stored
    log.info("Stripe customer %s created for %s", customer_id, workspace_id)
    return customer_id


def open_portal(workspace_id: str) -> dict:
    from chalicelib.adapters.stripe_gateway import gateway

    account = _account(workspace_id)
    if not account or not account.stripe_customer_id:
        raise NoBillingAccount("this workspace has no billing account yet: subscribe through checkout first")
    session = gateway().create_portal_session(customer_id=account.stripe_customer_id,
                                              return_url=f"{config.public_url()}/?workspace={workspace_id}")
    return {"url": session["url"]}


# ---- enforcement after a plan change ----------------------------------------------------------

@dataclass(frozen=True)
class _Pausable:
    """Something a plan counts that can be paused without losing it."""

    limit: Limit
    keep_attr: str
    paused_attr: str
    items: Callable[[str], dict[str, tuple[Any, str]]]  # id -> (created_at, status)
    set_status: Callable[[str, str, str, str], bool]  # (workspace, id, from, to) -> changed


def _connection_items(workspace_id: str) -> dict[str, tuple[Any, str]]:
    from chalicelib.store.connections import Connection

    return {c.connection_id: (c.created_at, c.status) for c in Connection.query(workspace_id, consistent_read=True)}


def _set_connection_status(workspace_id: str, connection_id: str, old: str, new: str) -> bool:
    from pynamodb.exceptions import UpdateError

    from chalicelib.store.connections import Connection

    try:
        Connection(workspace_id, connection_id).update(actions=[Connection.status.set(new)],
                                                       condition=Connection.status == old)
    except UpdateError as e:
        if getattr(e, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False  # changed meanwhile (deleted, or paused/resumed by a person)
        raise
    return True


def _alert_rule_store() -> Any:
    """Alert rules as something the plan pauses, when the alerts feature is in this build (its
    rules: ``services.alerts.rules``; its table: ``store.alerts.AlertRule``); None otherwise."""
    try:
        from chalicelib.services import alerts
    except ImportError:
        return None
    if not callable(getattr(alerts, "rules", None)):
        return None

    def items(workspace_id: str) -> dict[str, tuple[Any, str]]:
        return {r.alert_id: (r.created_at, r.status) for r in alerts.rules(workspace_id)}

    def set_status(workspace_id: str, alert_id: str, old: str, new: str) -> bool:
        # the plan's own choice: within its limit by construction, so not enforced again
        return alerts.change_status(workspace_id, alert_id, old, new, enforce=False)

    return SimpleNamespace(items=items, set_status=set_status)


def _pausables() -> list[_Pausable]:
    kinds = [_Pausable(Limit.CONNECTIONS, "keep_connection_ids", "plan_paused_connection_ids",
                       _connection_items, _set_connection_status)]
    rules = _alert_rule_store()
    if rules:
        kinds.append(_Pausable(Limit.ALERT_RULES, "keep_alert_rule_ids", "plan_paused_alert_rule_ids",
                               rules.items, rules.set_status))
    return kinds


def keep(workspace_id: str, connection_ids: Iterable[str] | None, alert_rule_ids: Iterable[str] | None) -> dict:
    """The owner's choice of what stays active under the plan; the rest is paused, not deleted.
    A kind not named keeps its previous choice."""
    from chalicelib.store.billing import BillingAccount

    plan = current_plan(workspace_id)
    chosen = {Limit.CONNECTIONS: connection_ids, Limit.ALERT_RULES: alert_rule_ids}
    actions = []
    for kind in _pausables():
        ids = chosen.get(kind.limit)
        if ids is None:
            continue
        ids = list(dict.fromkeys(ids))
        items = kind.items(workspace_id)
        unknown = [i for i in ids if i not in items]
        if unknown:
            raise ValidationFailed(f"unknown {kind.limit.value.replace('_', ' ')}: {', '.join(unknown)}",
                                   field=kind.keep_attr.removeprefix("keep_"))
        plans.check_limit(plan, kind.limit, 0, len(ids))
        actions.append(getattr(BillingAccount, kind.keep_attr).set(ids))
    if alert_rule_ids and _alert_rule_store() is None:
        raise ValidationFailed("this workspace has no alert rules to choose from", field="alert_rule_ids")
    if actions:
        BillingAccount(workspace_id).update(actions=actions)
    reconcile(workspace_id, force=True)
    return overview(workspace_id)


def reconcile(workspace_id: str, *, force: bool = False, now: float | None = None) -> dict[str, dict]:
    """Pause what the plan in force does not cover and resume what it paused and now covers.

    Runs only when the plan differs from the one last reconciled, unless ``force``d (a new choice
    by the owner). Idempotent: every status change is conditional on the status it replaces.
    """
    from chalicelib.store.billing import BillingAccount

    account = _account(workspace_id)
    if account is None:
        return {}  # never had a subscription or a choice: nothing was ever over a limit
    name, _ = effective_plan(account.state(), int(now if now is not None else time.time()))
    if not force and account.reconciled_plan == name:
        return {}
    plan = plans.get_plan(name)
    report: dict[str, dict] = {}
    actions = [BillingAccount.reconciled_plan.set(name)]
    for kind in _pausables():
        items = kind.items(workspace_id)
        paused_before = set(getattr(account, kind.paused_attr) or [])
        keep_ids = getattr(account, kind.keep_attr) or []
        candidates = {
            i: created for i, (created, status) in items.items()
            if status == "active" or (status == "paused" and (i in paused_before or (force and i in keep_ids)))
        }
        allowed = plan.limit(kind.limit)
        choice = plans.choose_active(candidates, allowed, [i for i in keep_ids if i in candidates][:allowed])
        paused = [i for i in choice.paused if items[i][1] == "active"
                  and kind.set_status(workspace_id, i, "active", "paused")]
        resumed = [i for i in choice.active if items[i][1] == "paused"
                   and kind.set_status(workspace_id, i, "paused", "active")]
        actions.append(getattr(BillingAccount, kind.paused_attr).set(list(choice.paused)))
        report[kind.limit.value] = {"paused": paused, "resumed": resumed}
        if paused or resumed:
            log.info("workspace %s on %s: %s paused %s, resumed %s", workspace_id, name, kind.limit.value,
                     paused, resumed)
    account.update(actions=actions)
    return report


def reconcile_all(now: float | None = None) -> int:
    """The hourly pass: every workspace that ever had a subscription, in case its plan changed with
    time alone (period end after a cancellation, end of a payment grace period)."""
    from chalicelib.store.billing import BillingAccount

    changed = 0
    for account in BillingAccount.scan(BillingAccount.reconciled_plan.exists() | BillingAccount.status.exists()):
        try:
            changed += bool(reconcile(account.workspace_id, now=now))
        except Exception:  # one workspace's failure must not stop the others
            log.exception("reconciling the plan of %s failed", account.workspace_id)
    return changed
