"""The dashboard's first screen in one call: month to date and its projection against the budget,
daily spend by one dimension, open firings, and the top movers against the previous window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import to_str
from chalicelib.services import alerts, forecasting, usage_queries
from chalicelib.store.alerts import rules
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


def summary(m: Membership, days: int, group_by: str) -> dict[str, Any]:
    workspace_id = m.workspace_id
    today = usage_queries.today()
    start, previous_start = today - timedelta(days=days - 1), today - timedelta(days=2 * days - 1)
    query = usage_queries.parse({"from": previous_start.isoformat(), "to": today.isoformat(), "group_by": group_by})
    query, notice = usage_queries.clip_to_plan(workspace_id, query)
    usage = usage_queries.run(workspace_id, query).to_json()
    shown = [p for p in usage["series"] if p["period"] >= start.isoformat()]
    period_start, period_end = forecasting.period_bounds(today, "month")
    budget = monthly_budget(workspace_id)
    horizon = min(90, max(7, (period_end - today).days + 1))
    forecast = forecasting.forecast(workspace_id, horizon, {}, budget, "month")
    firings = alerts.history(m, limit=20)["firings"]
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
        "open_firings": [f for f in firings if f["status"] == "open" and not f["test"]],
        "movers": movers(usage["series"], group_by, current, previous), "movers_days": mover_days,
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
    }
