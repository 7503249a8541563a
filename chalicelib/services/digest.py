"""The opt-in digest email: yesterday's (daily) or last week's (weekly) spend, the change on the
period before, the month-end forecast, the top movers and the alerts still open.

A digest is a firing like any other (key ``digest_<user>:<period>:digest``), so it is recorded
once and delivered exactly once by the same machinery; the sweep (handlers.alert_sweep) sends it
once the period has closed. A member who has left the workspace gets nothing (and their
subscription is removed).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist

from chalicelib.domain import alert_wording, alerts
from chalicelib.domain.alerts import Kind, Period, Rule, Scope
from chalicelib.services import alert_delivery
from chalicelib.services.alert_facts import Spend, new_firing, notification, projection
from chalicelib.store.alerts import DIGEST_PREFIX, AlertRule, Firing, rule_of
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.alerts.digest")


def send_if_due(r: AlertRule, now: datetime) -> bool:
    """Records and sends the digest for the last closed period unless it was sent already."""
    rule = rule_of(r)
    start, end, period_key = alerts.digest_window(rule.frequency, now.date())
    key = alerts.firing_key(r.alert_id, period_key, "digest")
    try:
        existing = Firing.get(r.workspace_id, key, consistent_read=True)
    except DoesNotExist:
        existing = None
    if existing is not None:
        if not existing.settled:
            alert_delivery.resume(existing)
        return False
    try:
        Membership.get(r.workspace_id, r.alert_id.removeprefix(DIGEST_PREFIX))
    except DoesNotExist:
        r.delete()
        return False

    spend = Spend(r.workspace_id, now)
    everything, currency = Scope(), rule.currency
    length = (end - start).days + 1
    prev_start, prev_end = start - timedelta(days=length), start - timedelta(days=1)
    total = spend.total(start, end, everything, currency)
    previous = spend.total(prev_start, prev_end, everything, currency)
    word = "day" if rule.frequency == "daily" else "week"

    month = alerts.window(Period("monthly"), now.date())
    month_rule = Rule(r.workspace_id, r.alert_id, r.name, Kind.BUDGET)
    forecast = projection(spend, month_rule, month, spend.total(month.start, month.end, everything, currency))

    current = spend.by_value(start, end, everything, currency, "model")
    before = spend.by_value(prev_start, prev_end, everything, currency, "model")
    moves = sorted(((k, current.get(k, Decimal(0)) - before.get(k, Decimal(0))) for k in set(current) | set(before)),
                   key=lambda kv: (-abs(kv[1]), kv[0]))
    open_alerts = [(f.alert_name, f.period_key, f.level)
                   for f in Firing.by_time.query(r.workspace_id, Firing.fired_sort > start.isoformat())
                   if f.status == "open" and not f.test and f.kind != Kind.DIGEST.value]
    n = notification(rule, key, now,
                     headline=alert_wording.digest_headline(rule.frequency, total, currency,
                                                            alert_wording.change(total, previous, word)),
                     figure=total, figure_label="Spend", threshold=previous, threshold_label=f"Previous {word}",
                     level="digest", period_label=alert_wording.digest_period_label(start, end),
                     scope_label="All spend", contributors=spend.top(start, end, everything, currency),
                     forecast=forecast, details=alert_wording.digest_details(moves, currency, open_alerts))
    firing = new_firing(rule, key, period_key, "digest", n, now)
    if not alert_delivery.record(firing, [], r.channels):
        return False
    alert_delivery.deliver_now_or_later(r.workspace_id, key)
    log.info("digest %s sent for %s", r.alert_id, period_key)
    return True
