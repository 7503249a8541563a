"""The opt-in digest email: yesterday's (daily) or last week's (weekly) spend, the change on the
period before, the month-end forecast, the top movers and the alerts still open.

A digest is a firing like any other (key ``digest_<user>:<period>:digest``), so it is recorded
once and delivered exactly once by the same machinery; the sweep sends it once the period has
closed. A member who has left the workspace gets nothing (and their subscription is removed).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist

from chalicelib.domain import alerts
from chalicelib.domain.alert_messages import money
from chalicelib.domain.alerts import Kind, Period, Rule, Scope
from chalicelib.store.alerts import AlertRule, Firing
from chalicelib.store.identity import Membership

log = logging.getLogger("costpilot.alerts.digest")


def _change(now: Decimal, before: Decimal) -> str:
    if before == 0:
        return "no spend the period before" if now else "no change"
    pct = (now - before) * 100 / before
    return f"{'+' if pct >= 0 else ''}{pct:.0f}% vs the {{prev}}"


def send_if_due(r: AlertRule, now: datetime) -> bool:
    """Records and sends the digest for the last closed period unless it was sent already."""
    from chalicelib.services import alert_delivery
    from chalicelib.services.alert_eval import (
        _notification,
        _projection,
        _Spend,
        new_firing,
    )
    from chalicelib.services.alerts import DIGEST_PREFIX

    rule = Rule.from_config(r.workspace_id, r.alert_id, r.name, Kind.DIGEST.value, r.config)
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

    spend = _Spend(r.workspace_id, now)
    everything, currency = Scope(), rule.currency
    length = (end - start).days + 1
    prev_start, prev_end = start - timedelta(days=length), start - timedelta(days=1)
    total = spend.total(start, end, everything, currency)
    previous = spend.total(prev_start, prev_end, everything, currency)
    word = "day" if rule.frequency == "daily" else "week"
    change = _change(total, previous).replace("{prev}", f"previous {word}")

    month = alerts.window(Period("monthly"), now.date())
    month_rule = Rule(r.workspace_id, r.alert_id, r.name, Kind.BUDGET)
    forecast = _projection(spend, month_rule, month, spend.total(month.start, month.end, everything, currency))

    current = spend.by_value(start, end, everything, currency, "model")
    before = spend.by_value(prev_start, prev_end, everything, currency, "model")
    moves = sorted(((k, current.get(k, Decimal(0)) - before.get(k, Decimal(0))) for k in set(current) | set(before)),
                   key=lambda kv: (-abs(kv[1]), kv[0]))
    movers = ", ".join(f"{k} {'+' if v >= 0 else '-'}{money(abs(v), currency)}" for k, v in moves[:3] if v)

    open_alerts = [f for f in Firing.by_time.query(r.workspace_id, Firing.fired_sort > start.isoformat())
                   if f.status == "open" and not f.test and f.kind != Kind.DIGEST.value]
    details = [f"Top movers (by model): {movers}" if movers else "Top movers: none",
               f"Open alerts: {len(open_alerts)}" + ("" if open_alerts else " (all clear)")]
    details += [f"  - {f.alert_name} ({f.period_key}, level {f.level})" for f in open_alerts[:5]]
    label = start.strftime("%a %d %b %Y") if start == end else f"{start:%a %d %b} to {end:%a %d %b %Y}"
    n = _notification(rule, key, now,
                      headline=f"Your {rule.frequency} spend: {money(total, currency)} ({change})",
                      figure=total, figure_label="Spend", threshold=previous, threshold_label=f"Previous {word}",
                      level="digest", period_label=f"{label} (UTC)", scope_label="All spend",
                      contributors=spend.top(start, end, everything, currency), forecast=forecast,
                      details=tuple(details))
    firing = new_firing(rule, key, period_key, "digest", n, now)
    if not alert_delivery.record(firing, [], r.channels):
        return False
    alert_delivery.deliver_now_or_later(r.workspace_id, key)
    log.info("digest %s sent for %s", r.alert_id, period_key)
    return True
