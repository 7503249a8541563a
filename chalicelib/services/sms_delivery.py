"""Sending an alert by SMS (the ``sms`` channel), called by services/alert_delivery.send.

At send time, in this order: the number must still be verified in the workspace (else the
delivery is ``cancelled``); the alert's period may carry one SMS per channel (a create-only
marker held by this delivery; a retry of the same delivery holds it again) and the workspace
a cap per UTC day (``config.sms_daily_cap``: an atomic ADD under a condition, counted once per
delivery). Past either limit the delivery is recorded as ``capped``. Then Twilio queues the
message with a status callback that carries the delivery's id (services/sms_status.py).

The text fits one GSM-7 segment: the headline with its exact figure and a short link
(``/s/<code>``) to the firing on the dashboard.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import config
from chalicelib.adapters import twilio_sms
from chalicelib.adapters.channels import DeliveryError
from chalicelib.domain import sms
from chalicelib.domain.alert_messages import Notification
from chalicelib.services import sms_numbers, sms_quota
from chalicelib.store.alerts import Delivery
from chalicelib.store.base import cancelled_by_condition, is_condition_failure, transaction
from chalicelib.store.sms import LINKS, SmsItem, once_marker

log = logging.getLogger("costpilot.sms")

STATUS_PATH = "/api/webhooks/twilio/status"
RANK = {"accepted": 1, "scheduled": 1, "queued": 1, "sending": 2, "sent": 3,
        "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4}
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
LINK_CHARS = 8


class Capped(DeliveryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, final_status="capped")


def status_callback_url(delivery_id: str) -> str:
    """The URL Twilio posts status changes to (and signs: the same string is rebuilt to verify)."""
    return f"{config.public_url()}{STATUS_PATH}?{urlencode({'d': delivery_id}, quote_via=quote)}"


def _hold_period(workspace_id: str, key: str, channel_id: str, delivery_id: str) -> bool:
    """Holds the alert period's one SMS for this delivery. Returns whether it was counted already."""
    alert_and_period = key.rsplit(":", 1)[0]
    alert_id, _, period_key = alert_and_period.partition(":")
    item = SmsItem(workspace_id, once_marker(alert_id, period_key, channel_id))
    expires = datetime.now(UTC) + timedelta(days=config.alert_history_days())
    try:
        with transaction() as t:
            t.update(item, actions=[SmsItem.delivery_id.set(delivery_id), SmsItem.expires_at.set(expires)],
                     condition=SmsItem.marker.does_not_exist() | (SmsItem.delivery_id == delivery_id))
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            raise Capped("an SMS for this alert was already sent to this number this period") from None
        raise
    return bool(SmsItem.get(item.workspace_id, item.marker, consistent_read=True).counted)


def _count(workspace_id: str, key: str, channel_id: str, delivery_id: str) -> None:
    """The daily cap, counted once for this delivery (with the period marker, in one transaction)."""
    alert_id, _, period_key = key.rsplit(":", 1)[0].partition(":")
    now = datetime.now(UTC)
    try:
        with transaction() as t:
            sms_quota.day_counter_update(t, workspace_id, now)
            t.update(SmsItem(workspace_id, once_marker(alert_id, period_key, channel_id)),
                     actions=[SmsItem.counted.set(True)], condition=SmsItem.delivery_id == delivery_id)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            raise Capped(f"the workspace's daily SMS cap ({config.sms_daily_cap()}) is reached") from None
        raise


def short_link(workspace_id: str, alert_id: str, key: str) -> str:
    """``{public_url}/s/<code>``, redirecting to the firing on the dashboard (same code on a retry)."""
    digest = hashlib.sha256(f"sms-link:{workspace_id}:{key}".encode()).digest()  # the page itself needs a login
    code = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:LINK_CHARS])
    target = f"/app/workspaces/{workspace_id}/alerts/{alert_id}?{urlencode({'firing': key}, quote_via=quote)}"
    SmsItem(LINKS, code, target=target,
            expires_at=datetime.now(UTC) + timedelta(days=config.alert_history_days())).save()
    return f"{config.public_url()}/s/{code}"


def resolve_link(code: str) -> str | None:
    if len(code) != LINK_CHARS or any(c not in _ALPHABET for c in code):
        return None
    try:
        return SmsItem.get(LINKS, code).target
    except DoesNotExist:
        return None


def send(channel: dict, n: Notification, delivery_id: str) -> None:
    """One alert SMS; raises ``DeliveryError`` (``final_status`` capped/cancelled when nothing is sent)."""
    workspace_id, key, channel_id = delivery_id.split("#")
    number = channel.get("number") or ""
    if not sms_numbers.is_verified(workspace_id, number):
        raise DeliveryError("the number is not verified in the workspace (any more)", retryable=False,
                            final_status="cancelled")
    if not _hold_period(workspace_id, key, channel_id, delivery_id):
        _count(workspace_id, key, channel_id, delivery_id)
    body = sms.render_alert(n, short_link(workspace_id, n.alert_id, key))
    sent = twilio_sms.send(number, body, status_callback_url(delivery_id))
    _record_sent(f"{workspace_id}#{key}", channel_id, sent)
    log.info("alert %s sent by SMS to %s (%s)", key, sms.mask(number), sent.sid)


def _record_sent(fid: str, channel_id: str, sent: twilio_sms.Sent) -> None:
    d = Delivery(fid, channel_id)
    rank = RANK.get(sent.status, 1)
    try:  # a status callback may have been quicker: never move its status back
        d.update(actions=[Delivery.provider_id.set(sent.sid), Delivery.sms_status.set(sent.status),
                          Delivery.sms_rank.set(rank)],
                 condition=Delivery.sms_rank.does_not_exist() | (Delivery.sms_rank < rank))
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        d.update(actions=[Delivery.provider_id.set(sent.sid)])

