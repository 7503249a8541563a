"""The dashboard's first screen in one call: month to date and its projection against the budget,
daily spend by one dimension, open firings, and the top movers against the previous window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.alert_messages import Notification
from chalicelib.domain.money import to_str
from chalicelib.services import forecasting, plan_limits, usage_queries
from chalicelib.store.alerts import Firing, rules
from chalicelib.store.identity import Membership

MOVERS = 5


def monthly_budget(workspace_id: str) -> Decimal | None:
    """The amount of the first active, unscoped monthly budget alert, if there is one."""
    for rule in rules(workspace_id, active_only=True):
        config = rule.config or {}
        if rule.kind == "budget" and not config.get("scope") and (config.get("period") or {}).get("kind") == "monthly":
            amount = config.get("amount")
            if amount is not None:
                return Decimal(str(amount))
    return None


def _totals(series: list[dict], group_by: str, first: str, last: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for point in series:
        if first <= point["period"] <= last and point["currency"] == "USD":
            name = point["group"].get(group_by) or "(not set)"
            out[name] = out.get(name, Decimal(0)) + Decimal(point["spend"])
    return out


def movers(series: list[dict], group_by: str, current: tuple[str, str], previous: tuple[str, str]) -> list[dict]:
    """Groups whose spend changed most between two windows, largest absolute change first."""
    now, before = _totals(series, group_by, *current), _totals(series, group_by, *previous)
    rows = []
    for name in now.keys() | before.keys():
        a, b = now.get(name, Decimal(0)), before.get(name, Decimal(0))
        if a == b:
            continue
        rows.append({"name": name, "current": to_str(a), "previous": to_str(b), "change": to_str(a - b),
                     "change_percent": None if not b else str(((a - b) * 100 / b).quantize(Decimal(1)))})
    rows.sort(key=lambda r: (-abs(Decimal(r["change"])), r["name"]))
    return rows[:MOVERS]


def open_firings(workspace_id: str, limit: int = 20) -> list[dict]:
    """The open, real firings among the latest ``limit``, for the banner: what, since when, expected vs
    observed and what drove it (one query; delivery status is the alert history's business)."""
    out = []
    for f in Firing.by_time.query(workspace_id, scan_index_forward=False, limit=limit, page_size=limit):
        if f.status != "open" or f.test:
            continue
        n = Notification.from_json(f.message)
        out.append({
            "firing_id": f.firing_key, "alert_id": f.alert_id, "alert_name": f.alert_name, "kind": f.kind,
            "level": f.level, "fired_at": f.fired_at.isoformat(), "status": f.status, "headline": n.headline,
            "figure": None if n.figure is None else to_str(n.figure), "figure_label": n.figure_label,
            "threshold": None if n.threshold is None else to_str(n.threshold), "threshold_label": n.threshold_label,
            "currency": n.currency, "period_label": n.period_label, "scope_label": n.scope_label,
            "drivers": {dim: [{"name": c.name, "amount": to_str(c.amount)} for c in rows]
                        for dim, rows in n.contributors.items()},
            "details": list(n.details),
        })
    return out


def usual_day(periods: list[str], series: list[dict], today: str) -> dict[str, Any]:
    """Today so far against the median of the previous 7 days' totals (UTC days)."""
    by_day: dict[str, Decimal] = {}
    for p in series:
        if p["currency"] == "USD":
            by_day[p["period"]] = by_day.get(p["period"], Decimal(0)) + Decimal(p["spend"])
    before = sorted(by_day.get(d, Decimal(0)) for d in [d for d in periods if d < today][-7:])
    usual = None
    if before:
        mid = len(before) // 2
        usual = before[mid] if len(before) % 2 else (before[mid - 1] + before[mid]) / 2
    return {"today": to_str(by_day.get(today, Decimal(0))), "usual": None if usual is None else to_str(usual),
            "usual_days": len(before)}


def summary(m: Membership, days: int, group_by: str) -> dict[str, Any]:
    workspace_id = m.workspace_id
    now = usage_queries.clock()
    today = now.date()
    start, previous_start = today - timedelta(days=days - 1), today - timedelta(days=2 * days - 1)
    plan = plan_limits.current_plan(workspace_id)  # read once: the clip and the forecast's history
    query = usage_queries.parse({"from": previous_start.isoformat(), "to": today.isoformat(), "group_by": group_by})
    query, notice = usage_queries.clip_to_plan(workspace_id, query, plan)
    earliest = usage_queries.earliest_day(workspace_id, plan)
    period_start, period_end = forecasting.period_bounds(today, "month")
    budget = monthly_budget(workspace_id)
    horizon = min(90, max(7, (period_end - today).days + 1))
    if group_by == "provider":  # the forecast's read (the provider grain) holds the chart's days too
        rows = usage_queries.daily_rows(workspace_id, forecasting.history_start(today, earliest), today,
                                        ("provider",), now)
        usage = usage_queries.run_over(rows, query, now).to_json()
    else:
        rows = None
        usage = usage_queries.run(workspace_id, query, now).to_json()
    forecast = forecasting.forecast(workspace_id, horizon, {}, budget, "month", earliest=earliest, rows=rows, now=now)
    shown = [p for p in usage["series"] if p["period"] >= start.isoformat()]
    # the plan may clip the previous window away: then compare the two halves of the shown window
    mover_days = days if query.start <= previous_start else days // 2
    mover_start = today - timedelta(days=mover_days - 1)
    current = (mover_start.isoformat(), today.isoformat())
    previous = ((mover_start - timedelta(days=mover_days)).isoformat(), (mover_start - timedelta(days=1)).isoformat())
    return {
        "timezone": "UTC", "today": today.isoformat(), "days": days, "group_by": group_by, "currency": "USD",
        "usage": {**usage, "from": max(start.isoformat(), usage["from"]), "series": shown,
                  "periods": [p for p in usage["periods"] if p >= start.isoformat()]},
        "notice": notice,
        "forecast": forecast,
        "open_firings": open_firings(workspace_id),
        "today_vs_usual": usual_day(usage["periods"], usage["series"], today.isoformat()),
        "movers": movers(usage["series"], group_by, current, previous), "movers_days": mover_days,
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
    }
