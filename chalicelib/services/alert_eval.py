"""Evaluating a workspace's alerts: for each rule, the figure for its period and scope, and on a
breach the notification's facts (figure, threshold, period, top contributors, period-end
forecast), fired once under its key (services.alert_firing).

Evaluations are queued by services.alert_queue (new usage, a rejected key, a changed rule, the
sweep in handlers.alert_sweep); the alerts queue's handler (handlers.alert_evaluator) calls ``evaluate_queued``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from chalicelib.domain import alert_wording, alerts
from chalicelib.domain.alert_messages import Notification
from chalicelib.domain.alerts import Kind, Rule, provider_title
from chalicelib.services import budget_status, spike_rule
from chalicelib.services.alert_facts import Breach, Spend, notification, projection
from chalicelib.services.alert_firing import fire, recover_unsettled
from chalicelib.store.alerts import AlertMarker, rule_of, rules
from chalicelib.store.connections import Connection

log = logging.getLogger("costpilot.alerts.eval")


def evaluate_queued(workspace_id: str, *, recover: bool = False) -> list[str]:
    """A queued evaluation (chalicelib/handlers.py): the marker goes first, so usage written from
    now on queues a new evaluation; then every rule is evaluated."""
    AlertMarker(workspace_id, "eval").delete()  # before reading: later usage queues anew
    return evaluate_workspace(workspace_id, recover=recover)


def evaluate_workspace(workspace_id: str, now: datetime | None = None, *, recover: bool = False) -> list[str]:
    """Evaluates every active, unsnoozed rule; returns the keys notified now."""
    now = now or datetime.now(UTC)
    spend = Spend(workspace_id, now)
    fired = []
    for r in rules(workspace_id, active_only=True):
        if r.snoozed_until and r.snoozed_until > now.timestamp():
            continue
        domain_rule = rule_of(r)
        try:
            found = breaches(domain_rule, spend, now)
        except Exception:
            log.exception("rule %s of %s could not be evaluated", r.alert_id, workspace_id)
            continue
        for b in found:
            key = fire(r, domain_rule, b, now)
            if key:
                fired.append(key)
    budget_status.refresh(workspace_id, spend, now)  # GET /api/budget-status reads what this writes
    if recover:
        recover_unsettled(workspace_id, now)
    return fired


def describe(rule: Rule, now: datetime, key: str, *, test: bool = False) -> Notification:
    """The notification the rule would send now (for "send a test": today's real figures)."""
    found = breaches(rule, Spend(rule.workspace_id, now), now, test=test)
    if not found:
        return notification(rule, key, now, headline=alert_wording.nothing_to_report(rule.name), test=test)
    return notification(rule, key, now, test=test, **found[0].build())


def breaches(rule: Rule, spend: Spend, now: datetime, test: bool = False) -> list[Breach]:
    """What the rule notifies now (``test``: what it would say even when nothing is breached)."""
    if rule.kind in (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST):
        return _spend_rule(rule, spend, now, test)
    if rule.kind is Kind.SPIKE:
        return spike_rule.breaches(rule, spend, now, test)
    if rule.kind is Kind.CONNECTION:
        return _connection_rule(rule, now, test)
    return []


def _spend_rule(rule: Rule, spend: Spend, now: datetime, test: bool = False) -> list[Breach]:
    w = alerts.window(rule.period, now.date())
    spent = spend.total(w.start, w.end, rule.scope, rule.currency)
    amount = rule.amount or Decimal(0)
    scope, currency = rule.scope.label, rule.currency

    def facts(headline: str, level: str, levels: tuple[str, ...] = (), **extra) -> dict:
        base = {"headline": headline, "figure": spent, "threshold": amount, "level": level, "levels": levels,
                "period_label": w.label, "scope_label": scope,
                "contributors": spend.top(w.start, w.end, rule.scope, currency),
                "forecast": projection(spend, rule, w, spent)}
        return {**base, **extra}

    found: list[Breach] = []
    if rule.kind is Kind.THRESHOLD and (alerts.exceeds(spent, amount) or test):
        headline = alert_wording.threshold_headline(scope, spent, amount, currency, w,
                                                    over=alerts.exceeds(spent, amount))
        found.append(Breach(w.key, "100", lambda: facts(headline, "100")))
    elif rule.kind is Kind.BUDGET:
        reached = alerts.levels_reached(spent, amount, rule.levels)
        if reached or test:
            top = reached[-1] if reached else 0
            headline = alert_wording.budget_headline(scope, alerts.percent_of(spent, amount), spent, amount,
                                                     currency, w)
            found.append(Breach(w.key, str(top), lambda: facts(
                headline, str(top), tuple(str(x) for x in reached), threshold_label="Budget",
                figure_label="Spent so far"), merged=tuple(str(x) for x in reached[:-1])))
    elif rule.kind is Kind.FORECAST:
        f = projection(spend, rule, w, spent)
        if f is not None and (alerts.forecast_overrun(f.probability_over, rule.probability) or test):
            headline = alert_wording.forecast_headline(scope, f.mean, f.probability_over, amount, currency, w)
            found.append(Breach(w.key, "forecast", lambda: facts(
                headline, "forecast", figure=f.mean, figure_label="Forecast at the period's end",
                threshold_label="Budget", forecast=f, details=(alert_wording.spent_so_far(spent, currency),))))
    return found


def _connection_rule(rule: Rule, now: datetime, test: bool = False) -> list[Breach]:
    out = []
    for c in Connection.query(rule.workspace_id):
        if rule.connection_id and c.connection_id != rule.connection_id:
            continue
        since = c.failing_since.timestamp() if c.failing_since else None
        if not (alerts.failing_long_enough(since, c.status, now.timestamp(), rule.failing_minutes) or test):
            continue
        episode = int(since or (c.last_sync_at.timestamp() if c.last_sync_at else 0))
        title = provider_title(c.provider)
        rejected = c.status == "error"
        facts = {"headline": alert_wording.connection_headline(title, c.label, rejected=rejected,
                                                               failing_since=c.failing_since),
                 "level": "fail", "scope_label": f"{title}: {c.label}",
                 "details": alert_wording.connection_details(c.last_error, c.last_success_at, rejected=rejected)}
        out.append(Breach(f"c{c.connection_id}@{episode}", "fail", lambda facts=facts: facts))
    return out
