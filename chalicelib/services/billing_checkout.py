"""Buying a plan: Stripe Checkout, the customer portal, and cancelling what Stripe would keep
billing when a workspace is deleted. The subscription itself arrives by webhook
(``services.billing_events``); the plan in force is ``services.plan_limits``'.
"""

from __future__ import annotations

import logging

from pynamodb.exceptions import UpdateError

from chalicelib import config
from chalicelib.adapters.stripe_gateway import gateway
from chalicelib.domain import plans
from chalicelib.domain.subscription import LIVE_STATUSES, SubscriptionState
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.services.plan_limits import subscription_state
from chalicelib.store.base import is_condition_failure, utcnow
from chalicelib.store.billing import BillingAccount, account_of

log = logging.getLogger("costpilot.billing")

# Subscriptions in these states still exist at Stripe: a second checkout would bill twice.
class SubscriptionExists(Conflict):
    code = "subscription_exists"


class NoBillingAccount(Conflict):
    code = "no_billing_account"


def start_checkout(workspace_id: str, plan_name: str) -> dict:
    """A Stripe Checkout Session for ``plan_name``; the subscription arrives by webhook."""
    plan = plans.get_plan(plan_name)
    price_id = config.stripe_price_ids().get(plan.price_config_key or "")
    if not price_id:
        raise ValidationFailed(f"the {plan.title} plan cannot be bought here", field="plan")
    state = subscription_state(workspace_id)
    if state.status in LIVE_STATUSES:
        raise SubscriptionExists(
            "this workspace already has a subscription: change, renew or cancel it in the customer portal",
            details={"portal": f"/api/workspaces/{workspace_id}/billing/portal"})
    customer_id = ensure_customer(workspace_id)
    previous = getattr(account_of(workspace_id), "checkout_session_id", None)
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
    account = account_of(workspace_id)
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
    account = account_of(workspace_id)
    if account and account.stripe_customer_id:
        return account.stripe_customer_id
    item = BillingAccount(workspace_id)
    try:
        item.update(actions=[BillingAccount.customer_pending_since.set(utcnow())],
                    condition=BillingAccount.stripe_customer_id.does_not_exist())
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        return account_of(workspace_id).stripe_customer_id  # stored meanwhile
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
        stored = account_of(workspace_id).stripe_customer_id
        log.error("workspace %s: Stripe created customer %s but %s is stored", workspace_id, customer_id, stored)
        return stored
    log.info("Stripe customer %s created for %s", customer_id, workspace_id)
    return customer_id


def open_portal(workspace_id: str) -> dict:

    account = account_of(workspace_id)
    if not account or not account.stripe_customer_id:
        raise NoBillingAccount("this workspace has no billing account yet: subscribe through checkout first")
    session = gateway().create_portal_session(customer_id=account.stripe_customer_id,
                                              return_url=f"{config.public_url()}/?workspace={workspace_id}")
    return {"url": session["url"]}
