"""The first screen's one call: its figures equal the usage and forecast endpoints' for the same view."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.services import dashboard, usage_queries
from chalicelib.store import usage

TODAY = date(2026, 11, 18)


@pytest.fixture
def fixed_today(monkeypatch):
    monkeypatch.setattr(usage_queries, "clock", lambda: datetime.combine(TODAY, time(12), UTC))
    return TODAY


def seed(ws: str, days: int) -> None:
    for i in range(days, -1, -1):
        day = datetime.combine(TODAY - timedelta(days=i), datetime.min.time(), UTC)
        records = [UsageRecord(ws, RecordKind.COST, "sync:c", "openai", day, day + timedelta(days=1), model="gpt-4o",
                               billed_cost=Decimal("10.123456")),
                   UsageRecord(ws, RecordKind.COST, "sync:c", "anthropic", day, day + timedelta(days=1),
                               model="claude", billed_cost=Decimal("1.005") * (3 if i < 15 else 1))]
        usage.replace_sync_day(ws, "c", day.date().isoformat(), records)


def test_summary_figures_equal_the_usage_endpoint(api, user, fixed_today):
    seed(user.workspace_id, 60)
    ws = user.workspace_id
    s = api.get(f"/api/workspaces/{ws}/summary?days=30", token=user.token)
    assert s.status == 200, s.body
    body = s.json
    first = (TODAY - timedelta(days=29)).isoformat()
    u = api.get(f"/api/workspaces/{ws}/usage?from={first}&to={TODAY.isoformat()}&group_by=provider",
                token=user.token).json
    assert body["usage"]["totals"] == u["totals"]
    assert body["usage"]["series"] == u["series"] and body["usage"]["periods"] == u["periods"]
    assert body["timezone"] == "UTC" and body["today"] == "2026-11-18"
    assert body["forecast"]["status"] == "ok" and body["forecast"]["period"]["end"] == "2026-11-30"
    assert body["open_firings"] == []


def test_movers_compare_two_windows_exactly(api, user, fixed_today):
    seed(user.workspace_id, 60)
    body = api.get(f"/api/workspaces/{user.workspace_id}/summary?days=30", token=user.token).json
    # Free keeps 30 days, so the window before is clipped away: the shown window's halves are compared
    assert body["movers_days"] == 15
    assert body["movers"] == [{"name": "anthropic", "current": "45.225", "previous": "15.075", "change": "30.15",
                               "change_percent": "200"}]


def test_the_monthly_budget_alert_is_the_forecast_budget(api, user, fixed_today):
    seed(user.workspace_id, 20)
    alert = {"name": "Budget", "kind": "budget", "amount": "250.50", "period": {"kind": "monthly"},
             "levels": [80, 100], "channels": [{"type": "email"}]}
    assert api.post(f"/api/workspaces/{user.workspace_id}/alerts", alert, token=user.token).status == 201
    body = api.get(f"/api/workspaces/{user.workspace_id}/summary", token=user.token).json
    assert body["forecast"]["period_end"]["budget"] == "250.5"
    assert body["forecast"]["period_end"]["probability_over_budget"] is not None


def test_summary_checks_membership_and_input(api, user):
    other = api.new_user("other")
    assert api.get(f"/api/workspaces/{user.workspace_id}/summary", token=other.token).status in (403, 404)
    for bad in ("days=3", "days=91", "group_by=color", "colour=red"):
        assert api.get(f"/api/workspaces/{user.workspace_id}/summary?{bad}", token=user.token).status == 400, bad


def test_movers_unit():
    series = [{"period": "2026-01-02", "group": {"provider": "a"}, "currency": "USD", "spend": "1.10"},
              {"period": "2026-01-01", "group": {"provider": "a"}, "currency": "USD", "spend": "0.10"},
              {"period": "2026-01-01", "group": {"provider": None}, "currency": "USD", "spend": "2"},
              {"period": "2026-01-02", "group": {"provider": "b"}, "currency": "EUR", "spend": "9"}]
    rows = dashboard.movers(series, "provider", ("2026-01-02", "2026-01-02"), ("2026-01-01", "2026-01-01"))
    assert rows == [{"name": "(not set)", "current": "0", "previous": "2", "change": "-2", "change_percent": "-100"},
                    {"name": "a", "current": "1.1", "previous": "0.1", "change": "1", "change_percent": "1000"}]
