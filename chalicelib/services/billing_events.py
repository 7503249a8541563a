"""The Stripe webhook: verified, each event applied once, never leaving a stale state.

- Verified: stripe's own verifier checks ``Stripe-Signature`` against the raw body with the
  stage's webhook secret and a 5-minute tolerance; anything else is a 400 that changes nothing.
- Once: the event id is recorded with a conditional put *in the same transaction* as the state
  change it causes, so a redelivery (or a concurrent delivery) finds it and changes nothing, and
  a failure before the commit records nothing and answers 5xx, so Stripe retries.
- Never stale: events are folded by ``domain.subscription`` (which orders them by their
  ``created`` time against what is stored), and then the subscription's current state is
  fetched from Stripe and applied as the newest snapshot, so neither a late, reordered, or
  same-second event can leave an old state behind. The transaction's condition on the account's
  ``version`` makes two concurrent deliveries apply one after the other (the loser retries and
  refetches).
- Unknown event types and events for workspaces we do not know are recorded, logged and
  acknowledged (2xx): Stripe would otherwise retry them for days.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError

from chalicelib import config
from chalicelib.adapters import stripe_gateway
from chalicelib.adapters.stripe_gateway import gateway
from chalicelib.domain import plans
from chalicelib.domain.subscription import (
    HANDLED_EVENTS,
    SubscriptionState,
    apply_event,
    apply_subscription,
    second_subscription,
)
from chalicelib.errors import ValidationFailed
from chalicelib.services import billing_reconcile
from chalicelib.store.base import cancelled_by_condition, is_condition_failure, transaction
from chalicelib.store.billing import (
    EVENT_RETENTION_SECONDS,
    BillingAccount,
    ProcessedEvent,
    account_of,
    state_actions,
)
from chalicelib.store.identity import Workspace

log = logging.getLogger("costpilot.billing.webhook")

MAX_ATTEMPTS = 5


class InvalidSignature(ValidationFailed):
    code = "invalid_signature"


def handle(raw_body: bytes, signature_header: str | None) -> dict:
    """Process one webhook delivery; answers what was done (the HTTP layer answers 200)."""
    if len(raw_body) > config.max_body_bytes():
        raise InvalidSignature("webhook body too large")
    try:
        event = stripe_gateway.verify_webhook(raw_body, signature_header, stripe_gateway.webhook_secret())
    except stripe_gateway.InvalidWebhook as e:
        log.warning("Stripe webhook rejected: %s", e)
        raise InvalidSignature(f"webhook rejected: {e}") from None
    event_id, kind = event["id"], event["type"]
    if _seen(event_id):
        log.info("Stripe event %s (%s) already processed", event_id, kind)
        return _answer(event, "duplicate")
    if kind not in HANDLED_EVENTS:
        log.info("Stripe event %s of unhandled type %s acknowledged", event_id, kind)
        return _answer(event, _record_only(event, None, "ignored"))
    workspace_id = workspace_of(event)
    if workspace_id is None:
        log.warning("Stripe event %s (%s) names no known workspace; acknowledged", event_id, kind)
        return _answer(event, _record_only(event, None, "unknown_workspace"))
    outcome = _apply(workspace_id, event)
    _refuse_second_subscription(workspace_id, event)
    _reconcile(workspace_id)
    log.info("Stripe event %s (%s) for %s: %s", event_id, kind, workspace_id, outcome)
    return _answer(event, outcome)


def _answer(event: dict, outcome: str) -> dict:
    return {"received": True, "event_id": event["id"], "outcome": outcome}


def _apply(workspace_id: str, event: dict) -> str:
    prices = plans.price_map(config.stripe_price_ids())
    for _ in range(MAX_ATTEMPTS):
        account = account_of(workspace_id)
        before = account.state() if account else SubscriptionState()
        state = _current(apply_event(before, event, prices), event, prices)
        if account is None:
            condition = BillingAccount.workspace_id.does_not_exist()
        elif account.version == 0:  # written before by the checkout only (no version yet)
            condition = BillingAccount.version.does_not_exist() | (BillingAccount.version == 0)
        else:
            condition = BillingAccount.version == account.version
        try:
            with transaction() as t:
                t.save(_record(event, workspace_id, "applied"), condition=_not_recorded())
                t.update(BillingAccount(workspace_id), actions=state_actions(state), condition=condition)
        except TransactWriteError as e:
            if not any(cancelled_by_condition(e)):
                raise
            if _seen(event["id"]):
                return "duplicate"  # a concurrent delivery of the same event won
            log.info("billing account of %s changed meanwhile; applying %s again", workspace_id, event["id"])
            continue
        if state != before:
            log.info("subscription of %s: %s/%s -> %s/%s", workspace_id, before.plan, before.status,
                     state.plan, state.status)
        return "applied"
    raise RuntimeError(f"billing account of {workspace_id} kept changing; Stripe will retry {event['id']}")


def _current(state: SubscriptionState, event: dict, prices: dict[str, str]) -> SubscriptionState:
    """``state`` with the mirrored subscription as Stripe has it now. Fetched after the account was
    read, it is at least as new as every event already applied, so it is applied as the newest."""
    if not state.stripe_subscription_id:
        return state
    sub = gateway().retrieve_subscription(state.stripe_subscription_id)
    observed = max(int(event.get("created") or 0), state.last_event_created, state.last_invoice_created)
    return apply_subscription(state, sub, observed, prices, deleted=sub.get("status") == "canceled")


def workspace_of(event: dict) -> str | None:
    """The workspace an event concerns: by the customer we created for it, else by the workspace
    id we put on the checkout session and the subscription (client_reference_id, metadata)."""
    obj = (event.get("data") or {}).get("object") or {}
    customer = _id(obj.get("customer"))
    candidates: list[Any] = []
    if customer:
        candidates += [a.workspace_id for a in BillingAccount.by_customer.query(customer, limit=1)]
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    candidates += [obj.get("client_reference_id"), (obj.get("metadata") or {}).get("workspace_id"),
                   (details.get("metadata") or {}).get("workspace_id")]
    for workspace_id in candidates:
        if isinstance(workspace_id, str) and workspace_id:
            try:
                if Workspace.get(workspace_id).deleted_at is None:  # a deleted one is being purged
                    return workspace_id
            except Workspace.DoesNotExist:
                continue
    return None


def _refuse_second_subscription(workspace_id: str, event: dict) -> None:
    """A workspace keeps one live subscription: another that arrives anyway (two checkouts both
    paid) is cancelled at Stripe (prorated) and flagged on the account, never silently kept.
    Runs after the event was recorded; a failure here answers 5xx, and Stripe's retry (a
    duplicate event) or the next event naming it tries again."""
    account = account_of(workspace_id)
    sub_id = second_subscription(account.state(), event) if account else None
    if sub_id is None:
        return
    sub = gateway().retrieve_subscription(sub_id)
    if sub.get("status") not in ("canceled", "incomplete_expired"):
        gateway().cancel_subscription(sub_id, idempotency_key=f"costpilot-{config.stage()}-{sub_id}-second")
    account.update(actions=[BillingAccount.refused_subscription_ids.add({sub_id})])
    log.error("workspace %s already has subscription %s: second subscription %s cancelled and flagged",
              workspace_id, account.stripe_subscription_id, sub_id)


def _reconcile(workspace_id: str) -> None:
    try:
        billing_reconcile.reconcile(workspace_id)
    except Exception:  # the state is stored; the hourly pass pauses/resumes later
        log.exception("pausing/resuming after a plan change of %s failed; the hourly pass retries", workspace_id)


# ---- the processed-events table ---------------------------------------------------------------

def _seen(event_id: str) -> bool:
    try:
        ProcessedEvent.get(event_id, consistent_read=True)
    except ProcessedEvent.DoesNotExist:
        return False
    return True


def _record(event: dict, workspace_id: str | None, outcome: str):
    return ProcessedEvent(event["id"], event_type=event["type"], event_created=int(event.get("created") or 0),
                          workspace_id=workspace_id, outcome=outcome,
                          expires_at=timedelta(seconds=EVENT_RETENTION_SECONDS))


def _not_recorded():
    return ProcessedEvent.event_id.does_not_exist()


def _record_only(event: dict, workspace_id: str | None, outcome: str) -> str:
    try:
        _record(event, workspace_id, outcome).save(condition=_not_recorded())
    except PutError as e:
        if not is_condition_failure(e):
            raise
        return "duplicate"
    return outcome


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) and value else None
