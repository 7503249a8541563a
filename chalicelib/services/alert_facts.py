"""The facts alerts and digests are built from: one evaluation's spend reader, the period-end
projection, the notification (with its links) and the firing that records it.

Shared by the rule evaluator (services.alert_eval), the digest (services.digest) and "send a test"
(services.alerts); the wording of what is said lives in ``domain.alert_wording``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import config
from chalicelib.domain import alerts
from chalicelib.domain.alert_messages import Contributor, ForecastFacts, Notification
from chalicelib.domain.alerts import Rule, Window, provider_title
from chalicelib.services import forecasting, usage_queries
from chalicelib.store.alerts import Firing

log = logging.getLogger("costpilot.alerts.eval")

HISTORY_DAYS = 56  # daily history behind spike scores (projections read the forecast page's)
HOURLY_DAYS = 35  # hourly history behind spike scores: the engine's 4-week same-time-of-week baseline, and a week
MIN_SPIKE_DAYS = 7  # days with spend before a series is judged for spikes
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

    def by_value(self, start: date, end: date, scope: alerts.Scope, currency: str, dim: str,
                 providers: frozenset[str] | None = None) -> dict[str, Decimal]:
        """Spend by the values of ``dim`` (``providers``: of these providers only)."""
        out: dict[str, Decimal] = {}
        group = (dim,) if providers is None or dim == "provider" else ("provider", dim)
        for p in self.result(start, end, scope, group).series:
            values = dict(p.group)
            if p.currency == currency and (providers is None or values.get("provider") in providers):
                name = values.get(dim) or "(none)"
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

    def history(self, today: date, scope: alerts.Scope, currency: str,
                providers: frozenset[str] | None = None) -> tuple[list[date], Any]:
        """Daily spend over the HISTORY_DAYS before today and today's so far: (days, values)
        (``providers``: of these providers only)."""
        import numpy as np

        start = today - timedelta(days=HISTORY_DAYS)
        if providers is None:
            daily = self.by_day(start, today, scope, currency)
        else:
            daily = {}
            for p in self.result(start, today, scope, ("provider",)).series:
                if p.currency == currency and dict(p.group).get("provider") in providers:
                    daily[p.period] = daily.get(p.period, Decimal(0)) + p.spend
        days = [start + timedelta(days=i) for i in range(HISTORY_DAYS + 1)]
        return days, np.array([float(daily.get(d, 0)) for d in days])

    def forecast_history(self, today: date, scope: alerts.Scope, currency: str) -> list[Decimal]:
        """Daily spend as the forecast page reads it (``forecasting.daily_history``: from the first
        day with spend, within the plan's history, at most a year), today's so far last."""
        key = ("forecast", today, scope, currency)
        if key not in self._cache:
            self._cache[key] = forecasting.daily_history(self.workspace_id, today, scope.filters(), currency,
                                                         now=self.now)[1]
        return self._cache[key]

    def hourly_by_provider(self, now: datetime, currency: str) -> dict[tuple[str, str], Decimal]:
        """Spend per (UTC hour ``YYYY-MM-DDTHH``, provider) over the days of ``hourly_history``."""
        last = now.astimezone(UTC).date()
        key = ("hourly", last, currency)
        if key not in self._cache:
            self._cache[key] = usage_queries.spend_by_hour_and_provider(
                self.workspace_id, last - timedelta(days=HOURLY_DAYS), last, currency)
        return self._cache[key]

    def hourly_history(self, now: datetime, scope: alerts.Scope, currency: str) -> tuple[list[datetime], Any] | None:
        """Spend per UTC hour over the HOURLY_DAYS before the hour of ``now`` and that hour so far:
        (hours, values), when the scope has hourly data (spend in hours of MIN_SPIKE_DAYS past
        days); None otherwise and for scopes finer than a provider (the hourly grain has none)."""
        import numpy as np

        if scope.dimension not in (None, "provider"):
            return None
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        spent: dict[str, float] = {}
        for (hour, provider), amount in self.hourly_by_provider(now, currency).items():
            if scope.value in (None, provider):
                spent[hour] = spent.get(hour, 0.0) + float(amount)
        if len({hour[:10] for hour in spent if hour[:10] < end.date().isoformat()}) < MIN_SPIKE_DAYS:
            return None
        hours = [end - timedelta(hours=i) for i in range(HOURLY_DAYS * 24, -1, -1)]
        return hours, np.array([spent.get(hour_label(h), 0.0) for h in hours])


def hour_label(hour: datetime) -> str:
    """An hour as the hourly rows name it: ``YYYY-MM-DDTHH`` (UTC)."""
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H")


def projection(spend: Spend, rule: Rule, w: Window, spent: Decimal) -> ForecastFacts | None:
    """The period-end forecast (spent so far, today's included, plus the forecast of the rest of today
    and of the days after it), or None."""
    import numpy as np

    from chalicelib.engines import forecast  # numpy: off the cold start

    if w.rolling:
        return None
    # the history the forecast page reads, so the email's figure and range are the dashboard's
    past = np.array([float(v) for v in spend.forecast_history(w.today, rule.scope, rule.currency)[:-1]])
    if (past > 0).sum() < 3 and w.days_left > 0:
        return None  # too little history to say anything honest
    try:
        # ``spent`` holds today's spend so far: of today's forecast, only the rest of the day is to come
        p = forecast.period_end_projection(past, float(spent), w.days_left + 1, level=0.8,
                                           budget=float(rule.amount) if rule.amount else None,
                                           today_left=alerts.share_of_today_left(spend.now or usage_queries.clock()))
    except (ValueError, FloatingPointError) as e:
        log.warning("forecast for %s failed: %s", rule.alert_id, e)
        return None
    return ForecastFacts(forecasting.cents(p.mean), forecasting.cents(p.lower), forecasting.cents(p.upper),
                         p.level, p.probability_over_budget)


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
    """A rule's decision: notify ``level`` for ``period_key``; ``merged`` lower levels ride along;
    ``after``: only once that level has fired for the period (a follow-up to it)."""

    period_key: str
    level: str
    build: Callable[[], dict]  # the notification's facts, called only when the key is new
    merged: tuple[str, ...] = ()
    after: str | None = None


def new_firing(rule: Rule, key: str, period_key: str, level: str, n: Notification, now: datetime, *,
               test: bool = False, merged_into: str | None = None) -> Firing:
    f = Firing(rule.workspace_id, key, alert_id=rule.alert_id, alert_name=rule.name, kind=rule.kind.value,
               period_key=period_key, level=level, fired_at=now, message=n.to_json(), test=test)
    if merged_into:
        f.status, f.merged_into, f.settled = "merged", merged_into, True
    else:
        f.fired_sort = f"{now.isoformat()}#{key}"
    return f
