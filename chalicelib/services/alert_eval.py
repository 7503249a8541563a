"""Evaluating a workspace's alerts: from "new usage arrived" to recorded, delivered notifications.

New usage calls ``request_evaluation``: a conditional write of the workspace's ``eval`` marker
lets one message through per coalescing window (SQS DelaySeconds), so a burst of pushes makes one
evaluation. The evaluator deletes the marker *before* it reads usage, so usage written after that
queues a new evaluation and nothing is missed. The scheduled sweep queues every workspace with
active rules (periods roll over without new usage; connections fail without usage) and the
digests that are due.

For each rule the evaluator computes the figure for the rule's period and scope; on a breach it
builds the notification (figure, threshold, period, top contributors, period-end forecast) and
records it under its key (see alert_delivery). Keys already recorded cost one read and nothing else.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import config
from chalicelib.adapters import queues
from chalicelib.domain import alerts
from chalicelib.domain.alert_messages import (
    Contributor,
    ForecastFacts,
    Notification,
    money,
)
from chalicelib.domain.alerts import Kind, Rule, Window, provider_title
from chalicelib.store.alerts import AlertMarker, AlertRule, Firing
from chalicelib.store.base import is_condition_failure

if TYPE_CHECKING:  # numpy stays off the cold start: the engine is imported where it runs
    from chalicelib.engines.spikes import Spike

log = logging.getLogger("costpilot.alerts.eval")

HISTORY_DAYS = 56  # daily history behind forecasts and spike scores
TOP_N = 3
CONTRIBUTOR_DIMENSIONS = ("provider", "model", "project")


# --- queueing -----------------------------------------------------------------------------------


def request_evaluation(workspace_id: str, source: str, *, now: float | None = None) -> bool:
    """Queues one evaluation of the workspace unless one is already queued. Returns True if sent."""
    now = int(now or time.time())
    delay = config.alert_coalesce_seconds()
    # The marker lapses on its own, so a lost message cannot block evaluations for long.
    until = now + delay + 60
    marker = AlertMarker(workspace_id, "eval", until=until, expires_at=datetime.fromtimestamp(until + 3600, UTC))
    try:
        marker.save(condition=AlertMarker.marker.does_not_exist() | (AlertMarker.until < now))
    except PutError as e:
        if is_condition_failure(e):
            return False
        raise
    try:
        queues.send(queues.ALERTS, {"workspace_id": workspace_id, "source": source, "at": now},
                    group_delay_seconds=delay)
    except Exception:
        marker.delete()
        raise
    return True


def has_active_rules(workspace_id: str) -> bool:
    from chalicelib.services.alerts import RULE_PREFIX

    found = AlertRule.query(workspace_id, AlertRule.alert_id.startswith(RULE_PREFIX),
                            AlertRule.status == "active", limit=1)
    return next(iter(found), None) is not None


def evaluate_queued(workspace_id: str, *, recover: bool = False) -> list[str]:
    """A queued evaluation (chalicelib/handlers.py): the marker goes first, so usage written from
    now on queues a new evaluation; then every rule is evaluated."""
    AlertMarker(workspace_id, "eval").delete()  # before reading: later usage queues anew
    return evaluate_workspace(workspace_id, recover=recover)


def sweep(now: datetime | None = None) -> dict:
    """Scheduled: queue every workspace with an active rule; send the digests that are due."""
    from chalicelib.services import digest
    from chalicelib.services.alerts import RULE_PREFIX

    now = now or datetime.now(UTC)
    workspaces, digests = set(), []
    for r in AlertRule.scan(AlertRule.status == "active"):
        if r.alert_id.startswith(RULE_PREFIX):
            workspaces.add(r.workspace_id)
        elif r.kind == Kind.DIGEST:
            digests.append(r)
    queued = queues.send_many(queues.ALERTS, [{"workspace_id": w, "source": "sweep", "at": int(now.timestamp())}
                                              for w in sorted(workspaces)])
    sent = sum(1 for r in digests if digest.send_if_due(r, now))
    return {"evaluations": queued, "digests": sent}


# --- evaluation ---------------------------------------------------------------------------------


class _Spend:
    """Spend queries of one evaluation, cached (rules often share a period and scope), all at the
    evaluation's ``now``: days the providers have not finished billing read the provisional spend
    (the larger of the bill so far and pushed events), so usage pushed from code counts at once."""

    def __init__(self, workspace_id: str, now: datetime | None = None):
        self.workspace_id = workspace_id
        self.now = now
        self._cache: dict = {}

    def result(self, start: date, end: date, scope: alerts.Scope, group_by: tuple[str, ...] = ()):
        from chalicelib.services import usage_queries

        key = (start, end, scope, group_by)
        if key not in self._cache:
            self._cache[key] = usage_queries.daily_spend(self.workspace_id, start, end, scope.filters(), group_by,
                                                         now=self.now)
        return self._cache[key]

    def by_day(self, start: date, end: date, scope: alerts.Scope, currency: str) -> dict[date, Decimal]:
        from chalicelib.services import usage_queries

        return usage_queries.spend_by_day(self.result(start, end, scope), currency)

    def total(self, start: date, end: date, scope: alerts.Scope, currency: str) -> Decimal:
        return sum(self.by_day(start, end, scope, currency).values(), Decimal(0))

    def by_value(self, start: date, end: date, scope: alerts.Scope, currency: str, dim: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for p in self.result(start, end, scope, (dim,)).series:
            if p.currency == currency:
                name = dict(p.group).get(dim) or "(none)"
                out[name] = out.get(name, Decimal(0)) + p.spend
        return out

    def top(self, start: date, end: date, scope: alerts.Scope, currency: str) -> dict[str, list[Contributor]]:
        out = {}
        for dim in CONTRIBUTOR_DIMENSIONS:
            if scope.dimension == dim:
                continue
            values = sorted(self.by_value(start, end, scope, currency, dim).items(), key=lambda kv: (-kv[1], kv[0]))
            named = [(k, v) for k, v in values if v > 0 and not (dim == "project" and k == "(none)")]
            if named:
                out[dim] = [Contributor(provider_title(k) if dim == "provider" else k, v) for k, v in named[:TOP_N]]
        return out

    def history(self, today: date, scope: alerts.Scope, currency: str):
        """Daily spend over the HISTORY_DAYS before today and today's so far: (days, values)."""
        import numpy as np

        start = today - timedelta(days=HISTORY_DAYS)
        daily = self.by_day(start, today, scope, currency)
        days = [start + timedelta(days=i) for i in range(HISTORY_DAYS + 1)]
        return days, np.array([float(daily.get(d, 0)) for d in days])


def _projection(spend: _Spend, rule: Rule, w: Window, spent: Decimal) -> ForecastFacts | None:
    """The period-end forecast (spent so far plus the forecast of the days left), or None."""
    from chalicelib.engines import forecast

    if w.rolling:
        return None
    _, values = spend.history(w.today, rule.scope, rule.currency)
    past = values[:-1]
    if (past > 0).sum() < 3 and w.days_left > 0:
        return None  # too little history to say anything honest
    try:
        p = forecast.period_end_projection(past, float(spent), w.days_left, level=0.8,
                                           budget=float(rule.amount) if rule.amount else None)
    except (ValueError, FloatingPointError) as e:
        log.warning("forecast for %s failed: %s", rule.alert_id, e)
        return None

    def d(x: float) -> Decimal:
        return Decimal(str(round(x, 2)))

    return ForecastFacts(d(p.mean), d(p.lower), d(p.upper), p.level, p.probability_over_budget)


def _links(rule: Rule) -> tuple[str, str]:
    from chalicelib.services.alerts import links

    urls = links(rule.workspace_id, rule.alert_id)
    return urls["alert"], urls["manage"]


def _notification(rule: Rule, key: str, now: datetime, **facts) -> Notification:
    alert_url, manage_url = _links(rule)
    return Notification(rule.workspace_id, rule.alert_id, rule.name, rule.kind.value, key,
                        currency=rule.currency, fired_at=now.isoformat(), alert_url=alert_url,
                        manage_url=manage_url, **facts)


@dataclass(frozen=True)
class Breach:
    """A rule's decision: notify ``level`` for ``period_key``; ``merged`` lower levels ride along."""

    period_key: str
    level: str
    build: object  # () -> Notification, called only when the key is new
    merged: tuple[str, ...] = ()


def _spend_rule(rule: Rule, spend: _Spend, now: datetime, test: bool = False) -> tuple[list[Breach], Window, Decimal]:
    w = alerts.window(rule.period, now.date())
    spent = spend.total(w.start, w.end, rule.scope, rule.currency)
    amount = rule.amount or Decimal(0)

    def facts(headline: str, level: str, levels: tuple[str, ...] = (), **extra) -> dict:
        base = {"headline": headline, "figure": spent, "threshold": amount, "level": level, "levels": levels,
                "period_label": w.label, "scope_label": rule.scope.label,
                "contributors": spend.top(w.start, w.end, rule.scope, rule.currency),
                "forecast": _projection(spend, rule, w, spent)}
        return {**base, **extra}

    breaches: list[Breach] = []
    if rule.kind is Kind.THRESHOLD and (alerts.exceeds(spent, amount) or test):
        relation = "over" if alerts.exceeds(spent, amount) else "under"
        headline = (f"{rule.scope.label} is {money(spent, rule.currency)} {_period_word(w)}, "
                    f"{relation} your {money(amount, rule.currency)} threshold")
        breaches.append(Breach(w.key, "100", lambda: facts(headline, "100")))
    elif rule.kind is Kind.BUDGET:
        reached = alerts.levels_reached(spent, amount, rule.levels)
        if reached or test:
            top = reached[-1] if reached else 0
            pct = alerts.percent_of(spent, amount)
            headline = (f"{rule.scope.label} has reached {pct}% of your {money(amount, rule.currency)} budget "
                        f"{_period_word(w)} ({money(spent, rule.currency)})")
            breaches.append(Breach(w.key, str(top), lambda: facts(
                headline, str(top), tuple(str(x) for x in reached), threshold_label="Budget",
                figure_label="Spent so far"), merged=tuple(str(x) for x in reached[:-1])))
    elif rule.kind is Kind.FORECAST:
        f = _projection(spend, rule, w, spent)
        if f is not None and (alerts.forecast_overrun(f.probability_over, rule.probability) or test):
            chance = round((f.probability_over or 0) * 100)
            headline = (f"{rule.scope.label} is on course to end {_period_word(w, end=True)} at "
                        f"{money(f.mean, rule.currency)}; {chance}% chance of going over your "
                        f"{money(amount, rule.currency)} budget")
            breaches.append(Breach(w.key, "forecast", lambda: facts(
                headline, "forecast", figure=f.mean, figure_label="Forecast at the period's end",
                threshold_label="Budget", forecast=f,
                details=(f"Spent so far: {money(spent, rule.currency)}",))))
    return breaches, w, spent


def _period_word(w: Window, end: bool = False) -> str:
    kind = w.key[0]
    words = {"d": "today", "w": "this week", "m": "this month"}
    if end:
        return {"d": "the day", "w": "the week", "m": "the month"}.get(kind, "the period")
    return words.get(kind, w.label.split(" (")[0])


def _spike_rule(rule: Rule, spend: _Spend, now: datetime, test: bool = False) -> list[Breach]:
    import numpy as np

    from chalicelib.engines import spikes

    today = now.date()
    days, values = spend.history(today, rule.scope, rule.currency)
    if (values[:-1] > 0).sum() < 7 and not test:
        return []
    stamps = np.array([np.datetime64(d.isoformat()) for d in days])
    started = int(np.argmax(values > 0)) if (values > 0).any() else len(values) - 1
    values = values.copy()
    values[:started] = np.nan  # before the first spend there is no series yet, not a run of zeros
    found = [s for s in spikes.detect(stamps, values, threshold=rule.sensitivity) if s.index >= len(days) - 2]
    if not found and not test:
        return []
    idx = found[-1].index if found else len(days) - 1
    day = days[idx]
    expected = Decimal(str(round(found[-1].expected, 2))) if found else Decimal(0)
    observed = Decimal(str(round(float(values[idx]), 2)))

    def build() -> dict:
        before = day - timedelta(days=7)
        contributors = {}
        for dim in ("provider", "model"):
            if rule.scope.dimension == dim:
                continue
            seen = spend.by_value(day, day, rule.scope, rule.currency, dim)
            usual = {k: v / 7 for k, v in spend.by_value(before, day - timedelta(days=1), rule.scope,
                                                          rule.currency, dim).items()}
            rises = spikes.explain({k: float(v) for k, v in usual.items()}, {k: float(v) for k, v in seen.items()})
            if rises:
                contributors[dim] = [Contributor(provider_title(k) if dim == "provider" else k,
                                                 Decimal(str(round(r, 2)))) for k, r in rises[:TOP_N]]
        return {
            "headline": f"Unusual spend: {rule.scope.label} was {money(observed, rule.currency)} on {day:%a %d %b} "
                        f"(usually about {money(expected, rule.currency)})",
            "figure": observed, "threshold": expected, "figure_label": f"Spend on {day.isoformat()} (UTC)",
            "threshold_label": "Expected", "level": "spike", "period_label": f"{day:%a %d %b %Y} (UTC)",
            "scope_label": rule.scope.label, "contributors": contributors,
            "details": _spike_details(found[-1], rule.sensitivity) if found else (),
        }

    return [Breach(f"d{day.isoformat()}", "spike", build)]


def _spike_details(spike: Spike, sensitivity: float) -> tuple[str, ...]:
    """The score, and which kind of event the spike looks like (runaway loop, leaked key, ...)."""
    lines = [f"Spike score {spike.score:.2f} (threshold {sensitivity:.2f})"]
    if spike.kind:
        lines.append(f"Looks like a {spike.kind}" + (f": {spike.reason}" if spike.reason else ""))
    return tuple(lines)


def _connection_rule(rule: Rule, now: datetime, test: bool = False) -> list[Breach]:
    from chalicelib.store.connections import Connection

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
        headline = (f"{title} connection '{c.label}': the key was rejected" if rejected
                    else f"{title} connection '{c.label}' has failed to sync since "
                         f"{c.failing_since:%a %d %b %H:%M} UTC" if c.failing_since
                    else f"{title} connection '{c.label}' is healthy (test)")
        details = tuple(x for x in (f"Last error: {c.last_error}" if c.last_error else "",
                                    f"Last successful sync: {c.last_success_at:%Y-%m-%d %H:%M} UTC"
                                    if c.last_success_at else "Never synced successfully",
                                    "Replace the key on the connection to resume syncing." if rejected else "") if x)
        facts = {"headline": headline, "level": "fail", "scope_label": f"{title}: {c.label}", "details": details}
        out.append(Breach(f"c{c.connection_id}@{episode}", "fail", lambda facts=facts: facts))
    return out


def breaches(rule: Rule, spend: _Spend, now: datetime, test: bool = False) -> list[Breach]:
    if rule.kind in (Kind.THRESHOLD, Kind.BUDGET, Kind.FORECAST):
        return _spend_rule(rule, spend, now, test)[0]
    if rule.kind is Kind.SPIKE:
        return _spike_rule(rule, spend, now, test)
    if rule.kind is Kind.CONNECTION:
        return _connection_rule(rule, now, test)
    return []


def describe(rule: Rule, now: datetime, key: str, *, test: bool = False) -> Notification:
    """The notification the rule would send now (for "send a test": today's real figures)."""
    found = breaches(rule, _Spend(rule.workspace_id, now), now, test=test)
    if not found:
        return _notification(rule, key, now, headline=f"Test of '{rule.name}': nothing to report right now",
                             test=test)
    return _notification(rule, key, now, test=test, **found[0].build())


def new_firing(rule: Rule, key: str, period_key: str, level: str, n: Notification, now: datetime, *,
               test: bool = False, merged_into: str | None = None) -> Firing:
    f = Firing(rule.workspace_id, key, alert_id=rule.alert_id, alert_name=rule.name, kind=rule.kind.value,
               period_key=period_key, level=level, fired_at=now, message=n.to_json(), test=test)
    if merged_into:
        f.status, f.merged_into, f.settled = "merged", merged_into, True
    else:
        f.fired_sort = f"{now.isoformat()}#{key}"
    return f


def _existing(workspace_id: str, alert_id: str, period_key: str) -> dict[str, Firing]:
    prefix = alerts.firing_key(alert_id, period_key, "")
    return {f.level: f for f in Firing.query(workspace_id, Firing.firing_key.startswith(prefix), consistent_read=True)}


def fire(rule: AlertRule, domain_rule: Rule, b: Breach, now: datetime) -> str | None:
    """Records the breach once and delivers it; redelivers a recorded but unsettled firing.
    Returns the key notified by this call, if any."""
    from chalicelib.services import alert_delivery

    armed = _armed_period(rule, b.period_key)
    for _ in range(3):
        existing = _existing(rule.workspace_id, rule.alert_id, armed)
        for f in existing.values():
            if not f.settled:  # a crash between record and send: finish what was recorded
                alert_delivery.resume(f)
        if b.level in existing:
            return None
        new_merged = [lvl for lvl in b.merged if lvl not in existing]
        key = alerts.firing_key(rule.alert_id, armed, b.level)
        n = _notification(domain_rule, key, now, **b.build())
        firing = new_firing(domain_rule, key, b.period_key, b.level, n, now)
        merged = [new_firing(domain_rule, alerts.firing_key(rule.alert_id, armed, lvl), b.period_key, lvl,
                             n, now, merged_into=key) for lvl in new_merged]
        if alert_delivery.record(firing, merged, rule.channels):
            log.info("alert %s fired: %s", rule.alert_id, key)
            alert_delivery.deliver_now_or_later(rule.workspace_id, key)
            return key
        # Another evaluator recorded some of these keys first: look again.
    return None


def _armed_period(rule: AlertRule, period_key: str) -> str:
    """The period part of the rule's firing keys: a changed rule (``generation``) is armed anew."""
    generation = int(rule.generation or 0)
    return f"{period_key}~g{generation}" if generation else period_key


def evaluate_workspace(workspace_id: str, now: datetime | None = None, *, recover: bool = False) -> list[str]:
    """Evaluates every active, unsnoozed rule; returns the keys notified now."""
    from chalicelib.services.alerts import rules

    now = now or datetime.now(UTC)
    spend = _Spend(workspace_id, now)
    fired = []
    for r in rules(workspace_id, active_only=True):
        if r.snoozed_until and r.snoozed_until > now.timestamp():
            continue
        domain_rule = Rule.from_config(workspace_id, r.alert_id, r.name, r.kind, r.config)
        try:
            found = breaches(domain_rule, spend, now)
        except Exception:
            log.exception("rule %s of %s could not be evaluated", r.alert_id, workspace_id)
            continue
        for b in found:
            key = fire(r, domain_rule, b, now)
            if key:
                fired.append(key)
    if recover:
        recover_unsettled(workspace_id, now)
    return fired


def recover_unsettled(workspace_id: str, now: datetime, hours: int = 48) -> int:
    """Delivers recent firings left unsettled (crash after record; the breach since gone)."""
    from chalicelib.services import alert_delivery

    since = (now - timedelta(hours=hours)).isoformat()
    count = 0
    unsettled = Firing.settled == False  # noqa: E712 - a PynamoDB condition, not a comparison
    for f in Firing.by_time.query(workspace_id, Firing.fired_sort > since, unsettled):
        alert_delivery.resume(f)
        count += 1
    return count


def get_rule(workspace_id: str, alert_id: str) -> AlertRule | None:
    try:
        return AlertRule.get(workspace_id, alert_id)
    except DoesNotExist:
        return None
