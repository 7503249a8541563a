"""Twilio's delivery status callbacks for alert SMS, and the email fallback.

Twilio POSTs ``MessageSid``, ``MessageStatus`` (queued, sent, delivered, undelivered, failed),
``ErrorCode``... form-encoded to the ``StatusCallback`` URL it was given, signed in
``X-Twilio-Signature`` with the account's auth token over that URL and the sorted parameters. A bad
signature (or another account's callback) is refused with 403 and changes nothing.

Twilio's signature has no timestamp, so a captured callback verifies forever: the effect is made
safe instead. The URL names the delivery (``?d=<firing id>#<channel id>``) and the message sid must
be the one Twilio gave us; statuses only move forward (a conditional update on their rank), so a
replayed, duplicated or late callback changes nothing; and the fallback email for an
undelivered or failed SMS is claimed once (create-only, with a lease a crashed sender lets lapse).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.domain import alert_messages, sms, twilio_signature
from chalicelib.errors import Forbidden, ValidationFailed
from chalicelib.store.alerts import AlertRule, Delivery, Firing
from chalicelib.store.base import cancelled_by_condition, transaction
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.sms")

FAILED = ("undelivered", "failed")
LEASE_SECONDS = 60


def _params(raw_body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("the body is not a form", field="body") from None


def handle(raw_body: bytes, signature: str | None, delivery_ref: str) -> dict:
    from chalicelib.adapters import twilio_sms
    from chalicelib.services.sms_delivery import RANK, status_callback_url

    params = _params(raw_body)
    try:
        creds = twilio_sms.credentials()
    except twilio_sms.NotConfigured:
        raise Forbidden("SMS is not configured on this stage") from None
    if not twilio_signature.valid(creds.auth_token, status_callback_url(delivery_ref), params, signature):
        raise Forbidden("the X-Twilio-Signature does not match")
    fields = dict(params)
    if fields.get("AccountSid") != creds.account_sid:
        raise Forbidden("the callback is not for this account")
    sid, status = fields.get("MessageSid") or fields.get("SmsSid") or "", (fields.get("MessageStatus") or "").lower()
    parts = delivery_ref.split("#")
    if len(parts) != 3 or not sid or status not in RANK:
        return {"ok": True, "ignored": "not a status change of an alert SMS"}
    fid, channel_id = f"{parts[0]}#{parts[1]}", parts[2]
    try:
        d = Delivery.get(fid, channel_id, consistent_read=True)
    except DoesNotExist:
        return {"ok": True, "ignored": "unknown delivery"}
    if d.channel_type != "sms" or (d.provider_id and d.provider_id != sid):
        return {"ok": True, "ignored": "not this delivery's message"}
    rank = RANK[status]
    actions = [Delivery.sms_status.set(status), Delivery.sms_rank.set(rank), Delivery.provider_id.set(sid)]
    if fields.get("ErrorCode"):
        actions.append(Delivery.sms_error.set(fields["ErrorCode"][:16]))
    try:
        with transaction() as t:
            t.update(d, actions=actions,
                     condition=(Delivery.sms_rank.does_not_exist() | (Delivery.sms_rank < rank))
                     & (Delivery.provider_id.does_not_exist() | (Delivery.provider_id == sid)))
        changed = True
    except TransactWriteError as e:
        if not any(cancelled_by_condition(e)):
            raise
        changed = False  # a duplicate, a replay or a late callback: only the fallback may be owed
    d = Delivery.get(fid, channel_id, consistent_read=True)
    if d.sms_status in FAILED:
        fall_back(d)
    return {"ok": True, "status": status, "changed": changed}


def _claim_fallback(d: Delivery, now: int) -> bool:
    try:
        with transaction() as t:
            t.update(d, actions=[Delivery.fallback.set("sending"), Delivery.fallback_until.set(now + LEASE_SECONDS)],
                     condition=Delivery.fallback.does_not_exist()
                     | ((Delivery.fallback == "sending") & (Delivery.fallback_until < now)))
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            return False
        raise
    return True


def _recipients(workspace_id: str, rule: AlertRule | None) -> list[str]:
    """The alert's email recipients who are members now, else the workspace's owners and admins."""
    members = list(Membership.query(workspace_id, consistent_read=True))
    emails = {m.email.lower() for m in members}
    chosen = sorted({a for c in (rule.channels if rule else []) if c.get("type") == "email"
                     for a in c.get("to", []) if a.lower() in emails})
    return chosen or sorted({m.email.lower() for m in members if m.role in ("owner", "admin")})


def fall_back(d: Delivery) -> bool:
    """Emails the firing to the workspace's alert recipients, once per SMS that did not arrive."""
    from chalicelib.adapters import email
    from chalicelib.adapters.channels import DeliveryError

    if d.fallback == "sent" or not _claim_fallback(d, int(time.time())):
        return False
    workspace_id, key = d.firing_id.split("#", 1)
    try:
        firing = Firing.get(workspace_id, key, consistent_read=True)
    except DoesNotExist:
        d.update(actions=[Delivery.fallback.set("failed")])
        return False
    try:
        rule = AlertRule.get(workspace_id, firing.alert_id, consistent_read=True)
    except DoesNotExist:
        rule = None
    n = alert_messages.Notification.from_json(firing.message)
    to = _recipients(workspace_id, rule)
    number = next((c.get("number", "") for c in (rule.channels if rule else []) if c["channel_id"] == d.channel_id), "")
    why = f"The SMS to {sms.mask(number) if number else 'your number'} was {d.sms_status or 'not delivered'}"
    why += f" (Twilio error {d.sms_error})." if d.sms_error else "."
    r = alert_messages.render_email(n)
    try:
        if not to:
            raise DeliveryError("no recipient for the fallback email", retryable=False)
        email.send(to, f"{r.subject} (SMS not delivered)", f"{why}\n\n{r.text}", f"<p>{why}</p>{r.html}",
                   {"X-CostPilot-Notification": n.key})
    except DeliveryError as e:
        d.update(actions=[Delivery.fallback.set("failed"),
                          Delivery.last_error.set(f"fallback email: {e.message}"[:300])])
        log.warning("fallback email for %s failed: %s", key, e.message)
        return False
    d.update(actions=[Delivery.fallback.set("sent")])
    log.info("SMS of %s %s: fallback email sent to %d recipient(s)", key, d.sms_status, len(to))
    return True
