"""Forecasts and insights for a workspace: reads daily spend from the rollups, runs the pure
engines (float statistics, by design), and returns money as exact decimal strings (rounded to
the cent for projections: a forecast has no business claiming more precision)."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.domain import alerts, money, pricing
from chalicelib.services import forecast_accuracy, usage_queries

HISTORY_DAYS = 365
INSIGHT_DIMENSIONS = ("provider", "model", "unit_type", "project", "feature")
CENT = Decimal("0.01")


def cents(x: float) -> Decimal:
    """A forecast figure in dollars, to the cent (half up; never below zero), as every view shows it."""
    return Decimal(repr(max(0.0, float(x)))).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(x: float) -> str:
    return money.to_str(cents(x))


def daily_history(workspace_id: str, end: date, filters: dict[str, frozenset], currency: str = "USD",
                  days: int = HISTORY_DAYS, now: datetime | None = None,
                  earliest: date | None = None, rows: list | None = None) -> tuple[date, list[Decimal]]:
    """Spend per UTC day up to ``end`` (inclusive), from the first day with spend. Days without
    spend are real zeros, not gaps; history starts no earlier than the plan allows. Days the providers
    have not finished billing read the provisional spend (the larger of the bill so far and pushed
    events), as alerts do. ``earliest``: the plan's first day, when the caller has it already;
    ``rows``: what ``usage_queries.daily_rows`` read over these days at ``now``, when the caller has it."""
    if earliest is None:
        earliest = usage_queries.earliest_day(workspace_id)
    start = max(end - timedelta(days=days - 1), earliest)  # the plan's history (history_start)
    days = (end - start).days + 1
    if rows is not None and now is not None:
        result = usage_queries.daily_spend_of(rows, start, end, (), now, filters)
    else:
        result = usage_queries.daily_spend(workspace_id, start, end, filters=filters, now=now)
    by_day = usage_queries.spend_by_day(result, currency)
    series = [by_day.get(start + timedelta(days=i), Decimal(0)) for i in range(days)]
    first = next((i for i, v in enumerate(series) if v), len(series))
    return start + timedelta(days=first), series[first:]


def history_start(today: date, earliest: date) -> date:
    """The first day a forecast reads (``daily_history``'s ``start``)."""
    return max(today - timedelta(days=HISTORY_DAYS - 1), earliest)


def period_bounds(today: date, period: str) -> tuple[date, date]:
    if period == "week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    start = today.replace(day=1)
    return start, today.replace(day=calendar.monthrange(today.year, today.month)[1])


def risk_level(probability: float | None, projected: float, budget: float | None) -> str:
    if budget is None or probability is None:
        return "unknown"
    if probability >= 0.5:
        return "high"
    if probability >= 0.2 or projected >= 0.9 * budget:
        return "medium"
    return "low"


def forecast(workspace_id: str, horizon: int, filters: dict[str, frozenset], budget: Decimal | None,
             period: str = "month", level: float = 0.8, earliest: date | None = None,
             rows: list | None = None, now: datetime | None = None) -> dict[str, Any]:
    """``rows`` (with the ``now`` they were read at): the caller's ``usage_queries.daily_rows`` over
    ``history_start(today, earliest)..today``, so the forecast reads nothing itself."""
    import numpy as np

    from chalicelib.engines import forecast as engine

    now = now or usage_queries.clock()
    today = now.date()
    # one read through today; today's bucket is still growing, so the history ends yesterday and the
    # forecast starts today
    first_day, series = daily_history(workspace_id, today, filters, now=now, earliest=earliest, rows=rows)
    history, today_so_far = series[:-1], (series[-1] if series else Decimal(0))
    period_start, period_end = period_bounds(today, period)
    spent = sum((v for d, v in zip(_days(first_day, len(history)), history, strict=True) if d >= period_start),
                Decimal(0))
    body: dict[str, Any] = {
        "timezone": "UTC", "currency": "USD", "scope": {k: sorted(v, key=str) for k, v in filters.items()},
        "history_days": len(history), "period": {"kind": period, "start": period_start.isoformat(),
                                                  "end": period_end.isoformat()},
    }
    if len(history) < 3:
        body.update({"status": "insufficient_history", "message": "A forecast needs at least 3 days of spend.",
                     "series": [], "period_end": None, "risk": "unknown"})
        return body
    values = np.array([float(v) for v in history])
    fc = engine.forecast(values, horizon, level)
    days_left = (period_end - today).days + 1
    # what today has cost so far counts, and only the rest of today is forecast (a day that ran away
    # counts at what it cost, and the figure does not jump at midnight)
    projection = engine.period_end_projection(values, float(spent + today_so_far), days_left, level,
                                              float(budget) if budget is not None else None,
                                              today_left=alerts.share_of_today_left(now))
    body.update({
        "status": "ok",
        "method": fc.method,
        "uncertain": fc.uncertain,
        "level": level,
        "series": [{"day": (today + timedelta(days=i)).isoformat(), "mean": _cents(fc.mean[i]),
                    "lower": _cents(fc.lower[i]), "upper": _cents(fc.upper[i])} for i in range(horizon)],
        "period_end": {
            "spent_so_far": money.to_str(spent), "today_so_far": money.to_str(today_so_far),
            "days_left": days_left, "projected": _cents(projection.mean), "lower": _cents(projection.lower),
            "upper": _cents(projection.upper),
            "budget": money.to_str(budget) if budget is not None else None,
            "probability_over_budget": None if projection.probability_over_budget is None
            else round(projection.probability_over_budget, 3),
            "days_until_budget_exceeded": projection.days_until_budget_exceeded,
        },
        "risk": risk_level(projection.probability_over_budget, projection.mean,
                           float(budget) if budget is not None else None),
        "accuracy": {
            **forecast_accuracy.accuracy(values, min(horizon, 14), level),
            "explain": "Backtest on this workspace's own history: MASE below 1 beats repeating last week; "
                       "coverage is the share of past days that fell inside the interval.",
        },
    })
    return body


def _days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def insights(workspace_id: str, days: int = 30) -> dict[str, Any]:
    """Findings over the last ``days`` UTC days against the ``days`` before. When the plan's history
    does not reach back that far (Free keeps 30 days), the two halves of what it keeps are compared,
    so nothing reads as "new" merely because its past is out of view."""
    from chalicelib.engines import insights as rules

    now = usage_queries.clock()
    end = now.date()
    earliest = usage_queries.earliest_day(workspace_id)  # the plan's history: nothing before it is read
    if end - timedelta(days=2 * days - 1) < earliest:
        days = max(1, ((end - earliest).days + 1) // 2)
    start = end - timedelta(days=days - 1)
    prev_start, prev_end = start - timedelta(days=days), start - timedelta(days=1)
    # one read of the every-dimension rows over both windows; the two groupings are computed from it
    # (day points: each falls in one window)
    read_from = max(prev_start, earliest)
    rows = usage_queries.daily_rows(workspace_id, read_from, end, INSIGHT_DIMENSIONS, now)
    by_model = usage_queries.daily_spend_of(rows, read_from, end, ("provider", "model", "unit_type"), now)
    by_tag = usage_queries.daily_spend_of(rows, read_from, end, ("provider", "project", "feature"), now)

    def model_rows(current: bool) -> list[rules.UsageRow]:
        acc: dict[tuple, dict] = defaultdict(lambda: {"cost": Decimal(0), "in": 0, "out": 0})
        for p in by_model.series:
            if (p.period >= start) != current:
                continue
            g = dict(p.group)
            row = acc[(p.period, g["provider"], g["model"])]
            row["cost"] += p.spend
            if g["unit_type"] in ("input_tokens", "cached_input_tokens", "cache_write_tokens"):
                row["in"] += int(p.units)
            elif g["unit_type"] == "output_tokens":
                row["out"] += int(p.units)
        return [rules.UsageRow(day, provider, v["cost"], model, v["in"], v["out"])
                for (day, provider, model), v in acc.items() if provider]

    def tag_rows(current: bool) -> list[rules.UsageRow]:
        return [rules.UsageRow(p.period, dict(p.group)["provider"] or "(unattributed)", p.spend,
                               project=dict(p.group)["project"], feature=dict(p.group)["feature"])
                for p in by_tag.series if not p.unattributed and (p.period >= start) == current]

    current, previous = model_rows(True), model_rows(False)
    found = (rules.cost_concentration(current) + rules.fast_growth(current, previous)
             + rules.cheaper_model(current, pricing.price_per_million)
             + rules.new_costly_tag(tag_rows(True), tag_rows(False)))
    found.sort(key=lambda i: -rules.SEVERITIES.index(i.severity))
    return {"days": days, "from": start.isoformat(), "to": end.isoformat(),
            "previous": {"from": prev_start.isoformat(), "to": prev_end.isoformat()}, "timezone": "UTC",
            "insights": [{"kind": i.kind, "title": i.title, "message": i.message, "severity": i.severity,
                          "figures": {k: money.to_str(v) if isinstance(v, Decimal) else v
                                      for k, v in i.figures.items()},
                          "saving": saving(i.kind, i.figures, days)} for i in found]}


def saving(kind: str, figures: dict[str, Any], days: int) -> dict[str, Any]:
    """What acting on an insight would save a month (30 days at this period's rate), and how."""
    per_month = Decimal(30) / Decimal(days)

    def monthly(x: Decimal) -> str | None:
        x = (x * per_month).quantize(CENT, rounding=ROUND_HALF_UP)
        return money.to_str(x) if x > 0 else None

    name = ("spend" if figures.get("dimension") == "total"
            else f"{figures.get('dimension', '')} {figures.get('name', '')}".strip())
    if kind == "cheaper_model" and "monthly_saving" in figures:
        return {"monthly": money.to_str(Decimal(figures["monthly_saving"])),
                "how": f"Move {figures.get('model')}'s calls to {figures.get('cheaper_model')}."}
    if kind == "fast_growth" and "current" in figures and "previous" in figures:
        return {"monthly": monthly(Decimal(figures["current"]) - Decimal(figures["previous"])),
                "how": f"Bring {name} back to last period's level."}
    if kind == "new_costly_tag" and "cost" in figures:
        return {"monthly": monthly(Decimal(figures["cost"])),
                "how": f"Stopping {name} saves all of it; capping it saves in proportion."}
    return {"monthly": None, "how": f"No direct saving: a price change or an outage at {name} would reach this share "
                                    "of your spend, so consider a second provider for it."}
