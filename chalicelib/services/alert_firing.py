"""Firing a breach: recorded once under its key, then delivered (services.alert_delivery).

A rule's firing keys carry its period and, once it changed, its ``generation`` (``~g<n>``), so a
changed rule is armed anew in the current period. Keys already recorded cost one read and nothing
else; a firing recorded but not settled (a crash between record and send) is finished here too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from chalicelib.domain import alerts
from chalicelib.domain.alerts import Rule
from chalicelib.services import alert_delivery, key_actions
from chalicelib.services.alert_facts import Breach, new_firing, notification
from chalicelib.store.alerts import AlertRule, Firing

log = logging.getLogger("costpilot.alerts.eval")


def fire(rule: AlertRule, domain_rule: Rule, b: Breach, now: datetime) -> str | None:
    """Records the breach once and delivers it; redelivers a recorded but unsettled firing.
    Returns the key notified by this call, if any."""
    armed = _armed_period(rule, b.period_key)
    for _ in range(3):
        existing = _existing(rule.workspace_id, rule.alert_id, armed)
        for f in existing.values():
            if not f.settled:  # a crash between record and send: finish what was recorded
                alert_delivery.resume(f)
        if b.level in existing or (b.after is not None and b.after not in existing):
            return None
        new_merged = [lvl for lvl in b.merged if lvl not in existing]
        key = alerts.firing_key(rule.alert_id, armed, b.level)
        n = notification(domain_rule, key, now, **b.build())
        firing = new_firing(domain_rule, key, b.period_key, b.level, n, now)
        merged = [new_firing(domain_rule, alerts.firing_key(rule.alert_id, armed, lvl), b.period_key, lvl,
                             n, now, merged_into=key) for lvl in new_merged]
        if alert_delivery.record(firing, merged, rule.channels):
            log.info("alert %s fired: %s", rule.alert_id, key)
            key_actions.on_firing(rule, firing)  # an opted-in spike alert stops the key that drove it
            alert_delivery.deliver_now_or_later(rule.workspace_id, key)
            return key
        # Another evaluator recorded some of these keys first: look again.
    return None


def _existing(workspace_id: str, alert_id: str, period_key: str) -> dict[str, Firing]:
    prefix = alerts.firing_key(alert_id, period_key, "")
    return {f.level: f for f in Firing.query(workspace_id, Firing.firing_key.startswith(prefix), consistent_read=True)}


def _armed_period(rule: AlertRule, period_key: str) -> str:
    """The period part of the rule's firing keys: a changed rule (``generation``) is armed anew."""
    generation = int(rule.generation or 0)
    return f"{period_key}~g{generation}" if generation else period_key


def recover_unsettled(workspace_id: str, now: datetime, hours: int = 48) -> int:
    """Delivers recent firings left unsettled (crash after record; the breach since gone)."""
    since = (now - timedelta(hours=hours)).isoformat()
    count = 0
    unsettled = Firing.settled == False  # noqa: E712 - a PynamoDB condition, not a comparison
    for f in Firing.by_time.query(workspace_id, Firing.fired_sort > since, unsettled):
        alert_delivery.resume(f)
        count += 1
    return count
