"""Alert rules: create, list, update, pause/resume, delete, send a test; history, acknowledge, snooze;
the member's opt-in digest.

Channel URLs are checked here (https and public targets unless the local stack opts out), sealed under KMS
with the alert's id in the encryption context, and only ever shown as a hint. A generic webhook
gets a signing secret, returned once, when it is created. Email channels go to workspace members
only, so an alert cannot be used to mail strangers.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib import config
from chalicelib.adapters import kms_secrets
from chalicelib.domain import alert_channels, alerts, plans
from chalicelib.domain.alert_messages import Notification
from chalicelib.domain.alerts import Kind, Rule
from chalicelib.domain.identity import new_id
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.services import alert_delivery, alert_eval, connections, counters, plan_limits
from chalicelib.services.alert_facts import links, new_firing
from chalicelib.services.alert_queue import request_evaluation
from chalicelib.store.alerts import (
    DIGEST_PREFIX,
    RULE_PREFIX,
    AlertRule,
    Delivery,
    Firing,
    deliveries_of,
    rule_of,
    rules,
    visible_firing,
)
from chalicelib.store.base import cancelled_by_condition, is_condition_failure, transaction
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.alerts")

MAX_CHANNELS = 5


# --- views ---------------------------------------------------------------------------------------


def view(r: AlertRule, *, signing_secrets: dict[str, str] | None = None) -> dict:
    out: dict[str, Any] = {
        "alert_id": r.alert_id, "name": r.name, "kind": r.kind, "status": r.status,
        **r.config,
        "channels": [dict(c, **({"signing_secret": signing_secrets[c["channel_id"]]}
                                if signing_secrets and c["channel_id"] in signing_secrets else {}))
                     for c in r.channels],
        "snoozed_until": (datetime.fromtimestamp(r.snoozed_until, UTC).isoformat()
                          if r.snoozed_until and r.snoozed_until > time.time() else None),
        "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
        "links": links(r.workspace_id, r.alert_id),
    }
    return out


# --- reading ------------------------------------------------------------------------------------


def get(workspace_id: str, alert_id: str) -> AlertRule:
    if not alert_id.startswith(RULE_PREFIX):
        raise NotFound("alert not found")
    try:
        return AlertRule.get(workspace_id, alert_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("alert not found") from None


def list_for(m: Membership) -> list[dict]:
    return [view(r) for r in sorted(rules(m.workspace_id), key=lambda r: r.created_at)]


def _check_plan(workspace_id: str) -> None:
    """Fails fast before channels are sealed; the counted write (``counters``) is what enforces."""
    plan_limits.check_alert_rules(workspace_id, len(rules(workspace_id, active_only=True)))


def change_status(workspace_id: str, alert_id: str, old: str, new: str, *, enforce: bool = True) -> bool:
    """Moves a rule from ``old`` to ``new`` with the active-rules counter in the same transaction
    (``enforce``: a resume counts against the plan). False if the rule was not ``old`` any more."""
    r = AlertRule(workspace_id, alert_id)
    actions = [AlertRule.status.set(new), AlertRule.updated_at.set(datetime.now(UTC))]
    condition = AlertRule.status == old

    def writes(t) -> None:
        t.update(r, actions=actions, condition=condition)

    delta = (new == "active") - (old == "active")
    try:
        if delta:
            counters.change(workspace_id, plans.Limit.ALERT_RULES, delta, writes, enforce=enforce)
        else:
            with transaction() as t:
                writes(t)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            return False
        raise
    return True


# --- channels -----------------------------------------------------------------------------------


def _member_emails(workspace_id: str) -> set[str]:
    return {m.email.lower() for m in Membership.query(workspace_id)}


def _channels(m: Membership, specs: list[dict], alert_id: str) -> tuple[list[dict], bytes | None, dict[str, str]]:
    """Public channel list, sealed targets and the new webhook signing secrets."""
    if not 1 <= len(specs) <= MAX_CHANNELS:
        raise ValidationFailed(f"give 1 to {MAX_CHANNELS} channels", field="channels")
    public, sealed, new_secrets = [], {}, {}
    members = None
    for i, spec in enumerate(specs):
        kind, channel_id = spec["type"], f"ch_{secrets.token_hex(4)}"
        where = f"channels.{i}"
        if kind == "email":
            to = [a.strip().lower() for a in (spec.get("to") or [m.email])]
            members = members if members is not None else _member_emails(m.workspace_id)
            strangers = [a for a in to if a not in members]
            if strangers:
                raise ValidationFailed("email alerts go to workspace members only", field=f"{where}.to")
            if spec.get("url"):
                raise ValidationFailed("an email channel has no url", field=f"{where}.url")
            public.append({"channel_id": channel_id, "type": "email", "to": sorted(set(to))})
            continue
        if kind == "sms":
            from chalicelib.services import sms_numbers

            public.append(sms_numbers.channel(m.workspace_id, spec, where, channel_id))
            continue
        if spec.get("to"):
            raise ValidationFailed(f"a {kind} channel has no 'to'", field=f"{where}.to")
        try:
            url = alert_channels.check_url(spec.get("url") or "", kind, allow_local=config.local_channels_allowed())
        except alert_channels.ChannelInvalid as e:
            raise ValidationFailed(str(e), field=f"{where}.url") from None
        sealed[f"{channel_id}.url"] = url
        if kind == "webhook":
            sealed[f"{channel_id}.secret"] = new_secrets[channel_id] = "whsec_" + secrets.token_urlsafe(24)
        public.append({"channel_id": channel_id, "type": kind, "hint": alert_channels.url_hint(url)})
    blob = kms_secrets.seal(sealed, m.workspace_id, alert_id, "alert-channels") if sealed else None
    return public, blob, new_secrets


# --- rules --------------------------------------------------------------------------------------


def _rule(workspace_id: str, alert_id: str, name: str, kind: str, spec: dict) -> Rule:
    try:
        rule = Rule.from_config(workspace_id, alert_id, name, kind, spec)
        alerts.validate(rule)
    except ValueError as e:
        text = str(e)
        field = text.split(":", 1)[0] if ":" in text else None
        raise ValidationFailed(text, field=field) from None
    if kind == Kind.CONNECTION and rule.connection_id:
        connections.get(workspace_id, rule.connection_id)  # 404 if not this workspace's
    return rule


def create(m: Membership, spec: dict) -> dict:
    """``spec``: name, kind, channels and the kind's settings (see api/alert_routes.NewAlert)."""
    _check_plan(m.workspace_id)
    alert_id = new_id("al")
    rule = _rule(m.workspace_id, alert_id, spec["name"], spec["kind"], spec)
    public, blob, new_secrets = _channels(m, spec["channels"], alert_id)
    r = AlertRule(m.workspace_id, alert_id, name=rule.name, kind=rule.kind.value, config=rule.config(),
                  channels=public, sealed_channels=blob, created_by=m.user_id)
    counters.change(m.workspace_id, plans.Limit.ALERT_RULES, +1,
                    lambda t: t.save(r, condition=AlertRule.alert_id.does_not_exist()))
    log.info("alert %s (%s) created in %s", alert_id, rule.kind, m.workspace_id)
    _evaluate_soon(m.workspace_id)
    return view(r, signing_secrets=new_secrets)


def update(m: Membership, alert_id: str, changes: dict) -> dict:
    r = get(m.workspace_id, alert_id)
    if "kind" in changes and changes["kind"] != r.kind:
        raise ValidationFailed("an alert's kind cannot change; create a new alert", field="kind")
    merged = {**r.config, **{k: v for k, v in changes.items() if k not in ("name", "channels", "kind")}}
    name = changes.get("name") or r.name
    rule = _rule(m.workspace_id, alert_id, name, r.kind, merged)
    actions = [AlertRule.name.set(name), AlertRule.config.set(rule.config()),
               AlertRule.updated_at.set(datetime.now(UTC))]
    if rule.config() != r.config:  # amount, levels, scope, period...: its firing state starts afresh
        actions.append(AlertRule.generation.add(1))
    new_secrets: dict[str, str] = {}
    if changes.get("channels") is not None:
        public, blob, new_secrets = _channels(m, changes["channels"], alert_id)
        actions.append(AlertRule.channels.set(public))
        actions.append(AlertRule.sealed_channels.set(blob) if blob else AlertRule.sealed_channels.remove())
    r.update(actions=actions, condition=AlertRule.alert_id.exists())
    _evaluate_soon(m.workspace_id)
    return view(get(m.workspace_id, alert_id), signing_secrets=new_secrets)


def set_status(m: Membership, alert_id: str, status: str) -> dict:
    r = get(m.workspace_id, alert_id)
    if r.status != status and not change_status(m.workspace_id, alert_id, r.status, status):
        raise Conflict("the alert changed meanwhile; reload and retry")
    if status == "active":
        _evaluate_soon(m.workspace_id)
    return view(get(m.workspace_id, alert_id))


def delete(m: Membership, alert_id: str) -> None:
    """Removes the rule; its history stays, and deliveries not yet made are cancelled."""
    r = get(m.workspace_id, alert_id)
    condition = AlertRule.status == r.status

    def writes(t) -> None:
        t.delete(r, condition=condition)

    try:
        if r.status == "active":
            counters.change(m.workspace_id, plans.Limit.ALERT_RULES, -1, writes)
        else:
            with transaction() as t:
                writes(t)
    except TransactWriteError as e:
        if any(cancelled_by_condition(e)):
            raise Conflict("the alert changed meanwhile; reload and retry") from None
        raise


def send_test(m: Membership, alert_id: str) -> dict:
    """Sends a test notification with today's real figures through every channel, now."""
    r = get(m.workspace_id, alert_id)
    now = datetime.now(UTC)
    key = alerts.firing_key(alert_id, f"test-{int(now.timestamp())}-{secrets.token_hex(3)}", "test")
    notification = alert_eval.describe(rule_of(r), now, key, test=True)
    firing = new_firing(rule_of(r), key, "test", "test", notification, now, test=True)
    alert_delivery.record(firing, [], r.channels)
    alert_delivery.deliver_now_or_later(m.workspace_id, key)
    return {"firing_id": key, "subject": f"[CostPilot test] {notification.headline}",
            "deliveries": _deliveries_view(deliveries_of([firing])[key])}


def _evaluate_soon(workspace_id: str) -> None:
    """A new or changed rule is evaluated within seconds (it may already be breached)."""
    try:
        request_evaluation(workspace_id, "rule-change")
    except Exception:  # noqa: BLE001 - the sweep evaluates it anyway
        log.warning("could not queue an evaluation of %s", workspace_id)


# --- history ------------------------------------------------------------------------------------


def _deliveries_view(deliveries: list[Delivery]) -> list[dict]:
    return [{"channel_id": d.channel_id, "type": d.channel_type, "status": d.status, "attempts": int(d.attempts),
             "last_error": d.last_error, "sent_at": d.sent_at.isoformat() if d.sent_at else None,
             **({"sms_status": d.sms_status, "email_fallback": d.fallback} if d.channel_type == "sms" else {})}
            for d in deliveries]


def firing_view(f: Firing, deliveries: list[Delivery] | None = None) -> dict:
    """``deliveries``: the firing's (``deliveries_of``), when the caller read them with others'."""
    if deliveries is None:
        deliveries = deliveries_of([f])[f.firing_key]
    n = Notification.from_json(f.message)
    return {
        "firing_id": f.firing_key, "alert_id": f.alert_id, "alert_name": f.alert_name, "kind": f.kind,
        "period": f.period_key, "level": f.level, "levels": list(n.levels), "fired_at": f.fired_at.isoformat(),
        "status": f.status, "test": f.test, "headline": n.headline,
        "figure": None if n.figure is None else str(n.figure),
        "threshold": None if n.threshold is None else str(n.threshold), "currency": n.currency,
        "acknowledged_by": f.acknowledged_by,
        "acknowledged_at": f.acknowledged_at.isoformat() if f.acknowledged_at else None,
        "deliveries": _deliveries_view(deliveries),
        "driving_key": n.driving_key,
    }


def history(m: Membership, *, alert_id: str | None = None, limit: int = 50, before: str | None = None) -> dict:
    condition = Firing.fired_sort < before if before else None
    found: list[Firing] = []
    for f in Firing.by_time.query(m.workspace_id, condition, scan_index_forward=False, page_size=limit * 2):
        if alert_id and f.alert_id != alert_id:
            continue
        found.append(f)
        if len(found) >= limit:
            break
    deliveries = deliveries_of(found)  # one read for the page's deliveries, not one per firing
    items = [firing_view(f, deliveries[f.firing_key]) for f in found]
    last = found[-1].fired_sort if found else None
    return {"firings": items, "next_before": last if len(items) >= limit else None}



def acknowledge(m: Membership, key: str) -> dict:
    f = visible_firing(m.workspace_id, key)
    f.update(actions=[Firing.status.set("acknowledged"), Firing.acknowledged_by.set(m.email),
                      Firing.acknowledged_at.set(datetime.now(UTC))], condition=Firing.firing_key.exists())
    return firing_view(visible_firing(m.workspace_id, key))


def snooze(m: Membership, key: str, minutes: int) -> dict:
    """Acknowledges the firing and mutes its alert for ``minutes``: nothing new fires until then."""
    f = visible_firing(m.workspace_id, key)
    until = int(time.time()) + minutes * 60
    try:
        AlertRule(m.workspace_id, f.alert_id).update(actions=[AlertRule.snoozed_until.set(until)],
                                                     condition=AlertRule.alert_id.exists())
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        raise NotFound("the alert of this firing was deleted") from None
    result = acknowledge(m, key)
    result["snoozed_until"] = datetime.fromtimestamp(until, UTC).isoformat()
    return result


# --- digest -------------------------------------------------------------------------------------


def digest_settings(m: Membership) -> dict:
    try:
        r = AlertRule.get(m.workspace_id, DIGEST_PREFIX + m.user_id, consistent_read=True)
    except DoesNotExist:
        return {"frequency": "off", "email": m.email}
    return {"frequency": r.config.get("frequency", "weekly") if r.status == "active" else "off", "email": m.email}


def set_digest(m: Membership, frequency: str) -> dict:
    digest_id = DIGEST_PREFIX + m.user_id
    if frequency == "off":
        AlertRule(m.workspace_id, digest_id).delete()
        return {"frequency": "off", "email": m.email}
    rule = _rule(m.workspace_id, digest_id, "Spend digest", Kind.DIGEST.value, {"frequency": frequency})
    AlertRule(m.workspace_id, digest_id, name=rule.name, kind=Kind.DIGEST.value, config=rule.config(),
              channels=[{"channel_id": "email", "type": "email", "to": [m.email.lower()]}],
              created_by=m.user_id).save()
    return {"frequency": frequency, "email": m.email}
