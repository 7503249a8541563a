"""A workspace's CostPilot subscription as mirrored from Stripe, and the plan it grants now.

Stripe delivers webhook events at least once and in any order, so ``apply_event`` is a pure fold
of events (plain dicts from the JSON body) into a ``SubscriptionState`` that never goes back in
time:

- ``customer.subscription.*`` events carry a full snapshot of the subscription. A snapshot is
  applied when its event is not older than the newest snapshot applied (``last_event_created``);
  an older one only fills what is still unknown (ids, or the whole mirror if no snapshot has
  been seen yet).
- ``invoice.paid`` / ``invoice.payment_failed`` only speak about payment health (``status``
  between active and past_due, ``past_due_since``). They apply when newer than both the last
  snapshot and the last invoice event (``last_invoice_created``), and do not hold back a later
  snapshot, whose price or cancellation they know nothing about.
- ``checkout.session.completed`` links the customer and subscription ids; it carries no state.

Events for another subscription than the one mirrored are ignored, unless the mirrored one has
ended (or never got paid) and the other is the workspace's new subscription.

``effective_plan`` then decides what the workspace gets at a given time: the paid plan while
active, through a 7-day grace period when a payment fails, and until the period ends when the
subscription is cancelled at period end; Free otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

FREE = "free"
GRACE_SECONDS = 7 * 24 * 3600

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_failed")
HANDLED_EVENTS = ("checkout.session.completed", *SUBSCRIPTION_EVENTS, *INVOICE_EVENTS)

# A mirrored subscription in one of these states may be replaced by a newer subscription.
_REPLACEABLE = frozenset({None, "canceled", "incomplete", "incomplete_expired", "unpaid", "paused"})
_GRANTING = frozenset({"active", "trialing", "past_due"})


class UnknownPrice(ValueError):
    """A subscription's price id is not one of the stage's plan prices (config drift)."""


#: Stripe statuses of a subscription that still bills or may bill again: while one exists, a plan
#: changes in the Customer Portal, not through a new Checkout.
LIVE_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "paused", "incomplete"})

@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """Times are Unix seconds, as Stripe sends them. ``plan`` is the plan paid for, not granted."""

    plan: str = FREE
    status: str | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    current_period_end: int | None = None
    cancel_at_period_end: bool = False
    past_due_since: int | None = None
    last_event_created: int = 0
    price_id: str | None = None
    cancel_at: int | None = None
    last_invoice_created: int = 0


@dataclass(frozen=True, slots=True)
class PlanNotice:
    """Why the granted plan is about to change, or just changed: for a banner in the UI."""

    code: str  # past_due_grace | past_due_downgraded | cancels_at_period_end
    message: str
    until: int | None = None


def apply_event(state: SubscriptionState, event: Mapping[str, Any],
                price_to_plan: Mapping[str, str]) -> SubscriptionState:
    """The state after one Stripe event. Unhandled event types leave it unchanged."""
    kind = event.get("type")
    obj = event.get("data", {}).get("object", {})
    created = int(event.get("created") or 0)
    if kind == "checkout.session.completed":
        return _link(state, _id(obj.get("customer")), _id(obj.get("subscription")))
    if kind in SUBSCRIPTION_EVENTS:
        return apply_subscription(state, obj, created, price_to_plan, deleted=kind.endswith(".deleted"))
    if kind in INVOICE_EVENTS:
        return _apply_invoice(state, obj, created, paid=kind == "invoice.paid")
    return state


def apply_subscription(
    state: SubscriptionState,
    sub: Mapping[str, Any],
    observed_at: int,
    price_to_plan: Mapping[str, str],
    *,
    deleted: bool = False,
) -> SubscriptionState:
    """Mirror a subscription snapshot seen at ``observed_at`` (an event's ``created``, or the time
    a fresh ``subscriptions.retrieve`` was made when re-fetching the current state)."""
    sub_id = sub.get("id")
    if not _adopt(state, sub_id, ending=deleted or sub.get("status") in ("canceled", "incomplete_expired")):
        return state
    if state.stripe_subscription_id != sub_id:
        # A new subscription for the workspace: start its mirror afresh, keeping the customer.
        state = SubscriptionState(stripe_customer_id=state.stripe_customer_id)
    state = _link(state, _id(sub.get("customer")), sub_id)
    if observed_at < state.last_event_created and state.status is not None:
        return state  # older than what is mirrored: ids only

    status = "canceled" if deleted else str(sub.get("status"))
    price_id, period_end = _price_and_period_end(sub, price_to_plan)
    if deleted:
        plan = FREE
    elif price_id in price_to_plan:
        plan = price_to_plan[price_id]
    elif status in _GRANTING:
        # Failing loudly makes Stripe retry the webhook until the stage config is fixed.
        raise UnknownPrice(f"subscription {sub_id} has price {price_id!r}, which is no plan's price")
    else:
        plan = FREE
    cancel_at_period_end = bool(sub.get("cancel_at_period_end")) and not deleted
    past_due_since = state.past_due_since
    if observed_at < state.last_invoice_created and status in ("active", "past_due"):
        status = state.status if state.status in ("active", "past_due") else status  # invoices know better
    if status == "past_due":
        past_due_since = past_due_since or observed_at
    elif status in ("active", "trialing"):
        past_due_since = None
    return replace(
        state,
        plan=plan,
        status=status,
        price_id=price_id,
        current_period_end=period_end,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=None if deleted else sub.get("cancel_at"),
        past_due_since=past_due_since,
        last_event_created=max(state.last_event_created, observed_at),
    )


def _apply_invoice(state: SubscriptionState, invoice: Mapping[str, Any], created: int, *,
                   paid: bool) -> SubscriptionState:
    sub_id = _invoice_subscription(invoice)
    if sub_id is None or (state.stripe_subscription_id not in (None, sub_id)):
        return state  # a one-off invoice, or one of another (older) subscription
    state = _link(state, _id(invoice.get("customer")), sub_id)
    if created < state.last_event_created or created < state.last_invoice_created:
        return state
    status, past_due_since = state.status, state.past_due_since
    if paid:
        past_due_since = None
        if status in ("past_due", "unpaid", "incomplete"):
            status = "active"
    else:
        past_due_since = past_due_since or created
        if status in ("active", "trialing"):
            status = "past_due"
    return replace(state, status=status, past_due_since=past_due_since, last_invoice_created=created)


def second_subscription(state: SubscriptionState, event: Mapping[str, Any]) -> str | None:
    """The id of a subscription this event names that the workspace must not keep: another one
    than the mirrored subscription while that one still grants a plan (a second checkout paid,
    say). The mirror ignores it; the caller cancels it at Stripe and flags it."""
    kind = event.get("type")
    obj = event.get("data", {}).get("object", {})
    if kind == "checkout.session.completed":
        sub_id = _id(obj.get("subscription"))
    elif kind in SUBSCRIPTION_EVENTS and not kind.endswith(".deleted"):
        if obj.get("status") in ("canceled", "incomplete_expired"):
            return None
        sub_id = _id(obj.get("id"))
    else:
        return None
    if not sub_id or state.stripe_subscription_id in (None, sub_id) or state.status in _REPLACEABLE:
        return None
    return sub_id


def effective_plan(state: SubscriptionState, now: int | datetime) -> tuple[str, PlanNotice | None]:
    """The plan the workspace gets at ``now``, and a notice when that is about to change or just did."""
    now = _seconds(now)
    if state.status not in _GRANTING or state.plan == FREE:
        return FREE, None
    ends_at = state.cancel_at or (state.current_period_end if state.cancel_at_period_end else None)
    if ends_at is not None and now >= ends_at:
        return FREE, None
    if state.status == "past_due":
        since = state.past_due_since or state.last_event_created
        grace_end = since + GRACE_SECONDS
        if now < grace_end:
            return state.plan, PlanNotice(
                "past_due_grace",
                f"Payment failed. Update your payment method before {_day(grace_end)} to keep your plan.",
                grace_end,
            )
        return FREE, PlanNotice(
            "past_due_downgraded",
            "Payment failed and the grace period is over: Free limits apply until the invoice is paid.",
        )
    if ends_at is not None:
        return state.plan, PlanNotice(
            "cancels_at_period_end", f"Your plan is cancelled and ends on {_day(ends_at)}.", ends_at
        )
    return state.plan, None


def _adopt(state: SubscriptionState, sub_id: str | None, *, ending: bool) -> bool:
    """Whether a snapshot of ``sub_id`` concerns this state's subscription (or may replace it)."""
    if sub_id is None:
        return False
    if state.stripe_subscription_id in (None, sub_id):
        return True
    return state.status in _REPLACEABLE and not ending


def _link(state: SubscriptionState, customer_id: str | None, sub_id: str | None) -> SubscriptionState:
    if sub_id and state.stripe_subscription_id not in (None, sub_id):
        if state.status not in _REPLACEABLE:
            return state
        state = SubscriptionState(stripe_customer_id=state.stripe_customer_id)
    return replace(
        state,
        stripe_customer_id=state.stripe_customer_id or customer_id,
        stripe_subscription_id=state.stripe_subscription_id or sub_id,
    )


def _price_and_period_end(sub: Mapping[str, Any], price_to_plan: Mapping[str, str]) -> tuple[str | None, int | None]:
    """The plan's item: its price id and period end (on items since API 2025-03-31.basil)."""
    items = (sub.get("items") or {}).get("data") or []
    item = next((i for i in items if _id(i.get("price")) in price_to_plan), items[0] if items else {})
    period_end = item.get("current_period_end") or sub.get("current_period_end")
    return _id(item.get("price")), int(period_end) if period_end is not None else None


def _invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    # Before API 2025-03-31.basil the id was at the top level.
    return _id(details.get("subscription") or invoice.get("subscription"))


def _id(value: Any) -> str | None:
    """An id from a field that may be expanded into an object."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value or None


def _seconds(now: int | datetime) -> int:
    return int(now.timestamp()) if isinstance(now, datetime) else int(now)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
