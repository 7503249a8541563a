"""Recording a firing and delivering it to each channel, exactly once per (firing, channel).

1. ``record`` writes the firing (keyed by alert:period:level) and one ``pending`` delivery per
   channel in a single transaction whose every item is create-only. Redelivered messages and
   concurrent evaluators lose the condition and record nothing: the notification exists once.
2. ``deliver`` is driven by the recorded state only. For each delivery it first *claims* the
   send with a conditional update (pending/failed -> sending, with a claim token and a lease),
   sends, then marks it ``sent`` under the same token. A worker that crashed between record and
   send left ``pending`` (or a lapsed lease) behind: the next run (the message's redelivery, the
   sweep) claims and sends it; a live claim is never doubled.
3. A failed send becomes ``failed`` and is retried through the deliveries queue with backoff; after
   ``MAX_ATTEMPTS`` (or when the target refuses for good, a 4xx) it is ``dead`` and the queue moves
   the message to its dead-letter queue.

The one gap no design closes is a crash after the channel accepted the send and before ``sent``
is written (seconds): the lease then lapses and the send is repeated. Webhooks carry
``CostPilot-Delivery`` so a receiver can drop that repeat; emails carry the notification key.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import config
from chalicelib.adapters import channels as http_channels
from chalicelib.adapters import email, kms_secrets, queues
from chalicelib.adapters.channels import DeliveryError
from chalicelib.domain import alert_channels, alert_messages
from chalicelib.domain.alert_messages import Notification
from chalicelib.services import email_verification
from chalicelib.store.alerts import AlertRule, Delivery, Firing, firing_id
from chalicelib.store.base import (
    cancelled_by_condition,
    is_condition_failure,
    transaction,
)
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.alerts.delivery")

DELIVERIES = "alert-deliveries"  # the queue of retries (infra: AlertDeliveriesQueue, DLQ after 5)
LEASE_SECONDS = 60
MAX_ATTEMPTS = 6  # the first try plus five through the queue
TERMINAL = ("sent", "dead", "cancelled", "capped")


def backoff_seconds(attempt: int) -> int:
    """10 s, 20 s, 40 s... capped at 15 minutes (SQS DelaySeconds' ceiling)."""
    return min(10 * 2 ** max(attempt - 1, 0), 900)


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # retryable, awaiting a retry
    dead: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # another worker holds the claim
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return not (self.failed or self.busy)


def record(firing: Firing, merged: list[Firing], channels: list[dict]) -> bool:
    """Creates ``firing`` (+ lower budget levels ``merged`` into it) and its pending deliveries.

    Returns False, writing nothing, if any of the keys was recorded before (by another evaluator
    or an earlier delivery of the same message).
    """
    expires = datetime.now(UTC) + timedelta(days=config.alert_history_days())
    firing.expires_at = expires
    firing.channel_ids = [c["channel_id"] for c in channels]
    fid = firing_id(firing.workspace_id, firing.firing_key)
    try:
        with transaction() as t:
            t.save(firing, condition=Firing.firing_key.does_not_exist())
            for m in merged:
                m.expires_at = expires
                t.save(m, condition=Firing.firing_key.does_not_exist())
            for c in channels:
                t.save(Delivery(fid, c["channel_id"], workspace_id=firing.workspace_id, channel_type=c["type"],
                                expires_at=expires), condition=Delivery.channel_id.does_not_exist())
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            return False
        raise
    return True


def _claim(d: Delivery, now: int, include_failed: bool) -> str | None:
    token = secrets.token_hex(8)
    claimable = (Delivery.status == "pending") | ((Delivery.status == "sending") & (Delivery.claim_until < now))
    if include_failed:
        claimable = claimable | (Delivery.status == "failed")
    # A one-item transaction: DynamoDB makes a conditional update atomic either way; the emulation
    # (moto) only serialises transactions, and the local stack runs its workers in threads.
    try:
        with transaction() as t:
            t.update(d, actions=[Delivery.status.set("sending"), Delivery.claim_token.set(token),
                                 Delivery.claim_until.set(now + LEASE_SECONDS), Delivery.attempts.add(1),
                                 Delivery.updated_at.set(datetime.now(UTC))],
                     condition=claimable)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            return None
        raise
    d.attempts = int(d.attempts) + 1
    return token


def _finish(d: Delivery, token: str, status: str, error: str | None = None) -> None:
    actions = [Delivery.status.set(status), Delivery.claim_until.set(0), Delivery.updated_at.set(datetime.now(UTC))]
    if status == "sent":
        actions += [Delivery.sent_at.set(datetime.now(UTC)), Delivery.last_error.remove()]
    if error:
        actions.append(Delivery.last_error.set(error[:300]))
    try:
        d.update(actions=actions, condition=Delivery.claim_token == token)
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        log.warning("delivery %s/%s: lease lost before it was marked %s", d.firing_id, d.channel_id, status)


def _targets(rule: AlertRule) -> dict[str, str]:
    """Channel id -> URL / secret (``<id>.url``, ``<id>.secret``), opened only when needed."""
    if rule.sealed_channels is None:
        return {}
    return kms_secrets.open_secret(rule.sealed_channels, rule.workspace_id, rule.alert_id, "alert-channels")


def send(channel: dict, targets: dict[str, str], n: Notification, delivery_id: str) -> None:
    """One channel, one notification. Raises ``channels.DeliveryError``."""
    kind = channel["type"]
    if kind == "email":
        r = alert_messages.render_email(n)
        email.send(list(channel["to"]), r.subject, r.text, r.html, {"X-CostPilot-Notification": n.key})
        return
    if kind == "sms":
        from chalicelib.services import sms_delivery

        sms_delivery.send(channel, n, delivery_id)
        return
    url = targets.get(f"{channel['channel_id']}.url")
    if not url:
        raise http_channels.DeliveryError("the channel's URL is missing", retryable=False)
    if kind == "slack":
        http_channels.post_json(url, alert_messages.render_slack(n))
    elif kind == "discord":
        http_channels.post_json(url, alert_messages.render_discord(n))
    elif kind == "webhook":
        body = json.dumps(alert_messages.render_webhook(n), sort_keys=True).encode()
        headers = {"CostPilot-Delivery": delivery_id, "CostPilot-Event": "alert.test" if n.test else "alert.fired"}
        secret = targets.get(f"{channel['channel_id']}.secret")
        if secret:
            headers[alert_channels.SIGNATURE_HEADER] = alert_channels.sign(secret, int(time.time()), body)
        http_channels.post_json(url, {}, headers, body=body)
    else:
        raise http_channels.DeliveryError(f"unknown channel type {kind}", retryable=False)


def deliver(workspace_id: str, key: str, *, include_failed: bool = False, final: bool = False) -> Outcome:
    """Sends every claimable delivery of one firing. ``include_failed``: retry failed ones too (the
    deliveries queue does; evaluations leave them to the queue's backoff). ``final``: this is the
    last retry the queue will make, so a failure is ``dead``."""
    outcome = Outcome()
    try:
        firing = Firing.get(workspace_id, key, consistent_read=True)
    except DoesNotExist:
        return outcome
    fid = firing_id(workspace_id, key)
    deliveries = [d for d in Delivery.query(fid, consistent_read=True) if d.status not in TERMINAL]
    if not deliveries:
        _mark_settled(firing)
        return outcome
    try:
        rule = AlertRule.get(workspace_id, firing.alert_id, consistent_read=True)
    except DoesNotExist:
        rule = None
    n = Notification.from_json(firing.message)
    channels = {c["channel_id"]: c for c in (rule.channels if rule else [])}
    targets: dict[str, str] | None = None
    members: set[str] | None = None
    now = int(time.time())
    for d in deliveries:
        if d.status == "failed" and not include_failed:
            outcome.failed.append(d.channel_id)
            continue
        token = _claim(d, now, include_failed)
        if token is None:
            (outcome.busy if d.status == "sending" else outcome.failed).append(d.channel_id)
            continue
        channel = channels.get(d.channel_id)
        if channel is None:  # the alert was deleted or its channels replaced since the firing
            _finish(d, token, "cancelled", "the channel no longer exists")
            continue
        if channel["type"] == "email":  # recipients are who is a member now, not when it was set up
            members = email_verification.verified_emails(_member_emails(workspace_id)) if members is None else members
            channel = {**channel, "to": [a for a in channel["to"] if a.lower() in members]}
            if not channel["to"]:
                _finish(d, token, "cancelled", "no recipient is a member with a verified address")
                continue
        try:
            if targets is None and channel["type"] not in ("email", "sms"):
                targets = _targets(rule)
            send(channel, targets or {}, n, f"{fid}#{d.channel_id}")
        except DeliveryError as e:
            attempts = int(d.attempts)  # the claim counted this attempt
            if e.final_status:  # settled without a send (an SMS over its cap, a number removed)
                _finish(d, token, e.final_status, e.message)
                continue
            dead = final or not e.retryable or attempts >= MAX_ATTEMPTS
            _finish(d, token, "dead" if dead else "failed", e.message)
            (outcome.dead if dead else outcome.failed).append(d.channel_id)
            outcome.errors[d.channel_id] = e.message
            log.warning("alert %s channel %s (%s): attempt %d failed%s: %s", key, d.channel_id, d.channel_type,
                        attempts, "" if not dead else ", giving up", e.message)
            continue
        _finish(d, token, "sent")
        outcome.sent.append(d.channel_id)
        log.info("alert %s delivered to %s (%s)", key, d.channel_id, d.channel_type)
    if outcome.settled:
        _mark_settled(firing)
    return outcome


def _member_emails(workspace_id: str) -> set[str]:
    return {m.email.lower() for m in Membership.query(workspace_id, consistent_read=True)}


def _mark_settled(firing: Firing) -> None:
    if not firing.settled:
        firing.update(actions=[Firing.settled.set(True)])


def deliver_now_or_later(workspace_id: str, key: str) -> Outcome:
    """The evaluator's path: send right away; hand failures to the queue with backoff."""
    outcome = deliver(workspace_id, key)
    if outcome.failed:
        schedule_retry(workspace_id, key, attempt=1)
        Firing(workspace_id, key).update(actions=[Firing.retry_queued.set(True)])
    return outcome


def resume(firing: Firing) -> Outcome:
    """Finishes a recorded firing that is not settled: sends what is pending or whose lease
    lapsed; failed sends stay with the queue's backoff unless no retry was ever queued."""
    outcome = deliver(firing.workspace_id, firing.firing_key)
    if outcome.failed and not firing.retry_queued:
        schedule_retry(firing.workspace_id, firing.firing_key, attempt=1)
        Firing(firing.workspace_id, firing.firing_key).update(actions=[Firing.retry_queued.set(True)])
    return outcome


def schedule_retry(workspace_id: str, key: str, attempt: int) -> None:
    queues.send(DELIVERIES, {"workspace_id": workspace_id, "firing_key": key},
                group_delay_seconds=backoff_seconds(attempt))


# --- the deliveries queue's handler --------------------------------------------------------------

MAX_RECEIVES = 5  # infra: AlertDeliveriesQueue maxReceiveCount


@dataclass(frozen=True)
class RetryVerdict:
    """What becomes of one receive of a retry message: ``keep`` reports it as a batch item failure
    (SQS receives it again after ``next_receive_seconds``, or moves it to the dead-letter queue)."""

    keep: bool
    next_receive_seconds: int = 0


def retry(workspace_id: str, key: str, receives: int) -> RetryVerdict:
    """One receive of a deliveries-queue message: retries the firing's failed deliveries. Still
    failing: kept, its next receive pushed out by the backoff; on its last receive the failures are
    marked dead and the message is kept so SQS moves it to the dead-letter queue, where an operator
    sees it."""
    outcome = deliver(workspace_id, key, include_failed=True, final=receives >= MAX_RECEIVES)
    if outcome.failed or outcome.busy:
        return RetryVerdict(True, backoff_seconds(receives + 1))
    if outcome.dead and receives >= MAX_RECEIVES:
        return RetryVerdict(True)
    return RetryVerdict(False)
