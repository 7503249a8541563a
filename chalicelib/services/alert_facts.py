"""The facts alerts and digests are built from: one evaluation's spend reader, the period-end
projection, the notification (with its links) and the firing that records it.

Shared by the rule evaluator (services.alert_eval), the digest (services.digest) and "send a test"
(services.alerts); the wording of what is said lives in ``domain.alert_wording``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import config
from chalicelib.domain import alerts
from chalicelib.domain.alert_messages import Contributor, ForecastFacts, Notification
from chalicelib.domain.alerts import Rule, Window, provider_title
from chalicelib.services import usage_queries
from chalicelib.store.alerts import Firing

log = logging.getLogger("costpilot.alerts.eval")

HISTORY_DAYS = 56  # daily history behind forecasts and spike scores
TOP_N = 3
CONTRIBUTOR_DIMENSIONS = ("provider", "model", "project")


class Spend:
    """Spend queries of one evaluation, cached (rules often share a period and scope), all at the
    evaluation's ``now``: days the providers have not finished billing read the provisional spend
    (the larger of the bill so far and pushed events), so usage pushed from code counts at once."""

    def __init__(self, workspace_id: str, now: datetime | None = None):
        self.workspace_id = workspace_id
        self.now = now
        self._cache: dict = {}

    def result(self, start: date, end: date, scope: alerts.Scope, group_by: tuple[str, ...] = ()
               ) -> usage_queries.UsageResult:
        key = (start, end, scope, group_by)
        if key not in self._cache:
            self._cache[key] = usage_queries.daily_spend(self.workspace_id, start, end, scope.filters(), group_by,
                                                         now=self.now)
        return self._cache[key]

    def by_day(self, start: date, end: date, scope: alerts.Scope, currency: str) -> dict[date, Decimal]:
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

    def history(self, today: date, scope: alerts.Scope, currency: str) -> tuple[list[date], Any]:
        """Daily spend over the HISTORY_DAYS before today and today's so far: (days, values)."""
        import numpy as np

        start = today - timedelta(days=HISTORY_DAYS)
        daily = self.by_day(start, today, scope, currency)
        days = [start + timedelta(days=i) for i in range(HISTORY_DAYS + 1)]
        return days, np.array([float(daily.get(d, 0)) for d in days])


def projection(spend: Spend, rule: Rule, w: Window, spent: Decimal) -> ForecastFacts | None:
    """The period-end forecast (spent so far plus the forecast of the days left), or None."""
    from chalicelib.engines import forecast  # numpy: off the cold start

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


def links(workspace_id: str, alert_id: str | None = None) -> dict[str, str]:
    """The alert's page and the workspace's alerts page, as notifications and the API show them."""
    base = f"{config.public_url()}/app/workspaces/{workspace_id}/alerts"
    return {"alert": f"{base}/{alert_id}" if alert_id else base, "manage": base}


def notification(rule: Rule, key: str, now: datetime, **facts: Any) -> Notification:
    urls = links(rule.workspace_id, rule.alert_id)
    return Notification(rule.workspace_id, rule.alert_id, rule.name, rule.kind.value, key,
                        currency=rule.currency, fired_at=now.isoformat(), alert_url=urls["alert"],
                        manage_url=urls["manage"], **facts)


@dataclass(frozen=True)
class Breach:
    """A rule's decision: notify ``level`` for ``period_key``; ``merged`` lower levels ride along."""

    period_key: str
    level: str
    build: Callable[[], dict]  # the notification's facts, called only when the key is new
    merged: tuple[str, ...] = ()


def new_firing(rule: Rule, key: str, period_key: str, level: str, n: Notification, now: datetime, *,
               test: bool = False, merged_into: str | None = None) -> Firing:
    f = Firing(rule.workspace_id, key, alert_id=rule.alert_id, alert_name=rule.name, kind=rule.kind.value,
               period_key=period_key, level=level, fired_at=now, message=n.to_json(), test=test)
    if merged_into:
        f.status, f.merged_into, f.settled = "merged", merged_into, True
    else:
        f.fired_sort = f"{now.isoformat()}#{key}"
    return f
