"""Billing tables: each workspace's Stripe customer and mirrored subscription, and the Stripe events
already processed.

``BillingAccount`` (one item per workspace) holds three groups of attributes, each written with its
own condition so that writers never overwrite each other's fields:
- the customer: ``stripe_customer_id`` is set once (``attribute_not_exists``), after a
  ``customer_pending_since`` marker records that a create is under way;
- the subscription mirror (``domain.subscription.SubscriptionState``), changed only together with
  the event that caused it, under ``version`` (optimistic concurrency);
- enforcement: the owner's choice of what stays active, what the plan paused, and the plan the
  pauses were last reconciled with.

``ProcessedEvent`` is keyed by Stripe's event id; its conditional put is what makes each event
count once. Records expire (TTL) long after Stripe stops retrying (3 days).
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib import aws
from chalicelib.domain.plans import Limit
from chalicelib.domain.subscription import SubscriptionState
from chalicelib.store.base import BaseModel, table_meta, utcnow
from chalicelib.store.identity import Workspace
from chalicelib.store.pushed_events import quota_key
from chalicelib.store.usage import records_table

EVENT_RETENTION_SECONDS = 30 * 24 * 3600


class BillingByCustomerIndex(GlobalSecondaryIndex["BillingAccount"]):
    """Stripe customer id -> workspace, for events that do not carry our metadata."""

    class Meta:
        index_name = "by-stripe-customer"
        projection = KeysOnlyProjection()

    stripe_customer_id = UnicodeAttribute(hash_key=True)


class BillingAccount(BaseModel):
    Meta = table_meta("billing")
    workspace_id = UnicodeAttribute(hash_key=True)

    stripe_customer_id = UnicodeAttribute(null=True)
    customer_pending_since = UTCDateTimeAttribute(null=True)

    # The subscription mirror: the fields of SubscriptionState, same names.
    plan = UnicodeAttribute(default="free")
    status = UnicodeAttribute(null=True)
    stripe_subscription_id = UnicodeAttribute(null=True)
    current_period_end = NumberAttribute(null=True)  # unix seconds
    cancel_at_period_end = BooleanAttribute(default=False)
    cancel_at = NumberAttribute(null=True)
    past_due_since = NumberAttribute(null=True)
    price_id = UnicodeAttribute(null=True)
    last_event_created = NumberAttribute(default=0)
    last_invoice_created = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)

    # Enforcement after a downgrade.
    keep_connection_ids = ListAttribute(of=UnicodeAttribute, null=True)
    keep_alert_rule_ids = ListAttribute(of=UnicodeAttribute, null=True)
    plan_paused_connection_ids = ListAttribute(of=UnicodeAttribute, null=True)
    plan_paused_alert_rule_ids = ListAttribute(of=UnicodeAttribute, null=True)
    reconciled_plan = UnicodeAttribute(null=True)
    reconcile_count = NumberAttribute(default=0)  # each reconcile that wrote: passes apply one after another

    # At most one live subscription: the checkout session last opened (an earlier open one is
    # expired first), and subscriptions that arrived while another was live, cancelled and flagged.
    checkout_session_id = UnicodeAttribute(null=True)
    refused_subscription_ids = UnicodeSetAttribute(null=True)

    by_customer = BillingByCustomerIndex()

    def state(self) -> SubscriptionState:
        return SubscriptionState(**{f.name: _plain(getattr(self, f.name)) for f in fields(SubscriptionState)})


STATE_FIELDS = tuple(f.name for f in fields(SubscriptionState) if f.name != "stripe_customer_id")


def state_actions(state: SubscriptionState) -> list:
    """Update actions writing the subscription mirror (the customer id is written separately, once)."""
    actions = []
    for name in STATE_FIELDS:
        attr = getattr(BillingAccount, name)
        value = getattr(state, name)
        actions.append(attr.remove() if value is None else attr.set(value))
    if state.stripe_customer_id:  # learnt from an event; never replaces a stored one
        actions.append(BillingAccount.stripe_customer_id.set(
            BillingAccount.stripe_customer_id | state.stripe_customer_id))
    actions += [BillingAccount.version.add(1), BillingAccount.updated_at.set(utcnow())]
    return actions


class EventsByWorkspace(GlobalSecondaryIndex["ProcessedEvent"]):
    """A workspace's processed events (sparse: events of no known workspace have none), so that
    deleting the workspace removes them."""

    class Meta:
        index_name = "by-workspace"
        projection = KeysOnlyProjection()

    workspace_id = UnicodeAttribute(hash_key=True)


class ProcessedEvent(BaseModel):
    Meta = table_meta("billing-events")
    event_id = UnicodeAttribute(hash_key=True)
    event_type = UnicodeAttribute()
    event_created = NumberAttribute(default=0)
    workspace_id = UnicodeAttribute(null=True)
    by_workspace = EventsByWorkspace()
    outcome = UnicodeAttribute()  # applied | ignored | unknown_workspace
    processed_at = UTCDateTimeAttribute(default=utcnow)
    expires_at = TTLAttribute()


def _plain(value):
    """PynamoDB numbers come back as float/int; the mirror holds ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def overview_items(workspace_id: str, month: str) -> tuple[Workspace | None, BillingAccount | None, int]:
    """The workspace item (its counters), its billing account and the events written in ``month``,
    in one strongly consistent request (TransactGetItems)."""
    key = {"S": workspace_id}
    found = aws.client("dynamodb").transact_get_items(TransactItems=[
        {"Get": {"TableName": Workspace.Meta.table_name, "Key": {"workspace_id": key}}},
        {"Get": {"TableName": BillingAccount.Meta.table_name, "Key": {"workspace_id": key}}},
        {"Get": {"TableName": records_table(), "Key": {"pk": key, "sk": {"S": quota_key(month)}}}},
    ])["Responses"]
    workspace, account, quota = (r.get("Item") for r in found)
    events = int(quota["n"]["N"]) if quota and "n" in quota else 0
    return (Workspace.from_raw_data(workspace) if workspace else None,
            BillingAccount.from_raw_data(account) if account else None, events)


def account_of(workspace_id: str) -> BillingAccount | None:
    """The workspace's billing account, or None before its first checkout or choice."""
    try:
        return BillingAccount.get(workspace_id, consistent_read=True)
    except BillingAccount.DoesNotExist:
        return None


# What a smaller plan pauses rather than deletes, by limit: the attribute holding the owner's choice
# of what stays active (``keep_…``) and the one listing what the plan paused.
PAUSABLE: dict[Limit, tuple[str, str]] = {
    Limit.CONNECTIONS: ("keep_connection_ids", "plan_paused_connection_ids"),
    Limit.ALERT_RULES: ("keep_alert_rule_ids", "plan_paused_alert_rule_ids"),
}
