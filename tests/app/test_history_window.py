"""The Free plan's 30-day history holds on every read path: usage (one old day included), CSV,
forecast and insights. Fixed clock: usage_queries.clock() is pinned."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord

TODAY = date(2026, 11, 25)
OLD = TODAY - timedelta(days=200)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    from chalicelib.services import usage_queries

    monkeypatch.setattr(usage_queries, "clock", lambda: datetime.combine(TODAY, time(12), UTC))


def push(ws: str, day: date, amount: str) -> None:
    from chalicelib.store import pushed_events

    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    pushed_events.add_events(ws, [UsageRecord(ws, RecordKind.EVENT, "push:test", "openai", at,
                                              at + timedelta(seconds=1), model="gpt-4o", unit_type="tokens",
                                              units=Decimal(1000), billed_cost=Decimal(amount),
                                              idempotency_id=uuid.uuid4().hex)])


@pytest.mark.parametrize("query", [f"from={OLD}&to={OLD}", f"from={OLD}&to={OLD + timedelta(days=20)}",
                                   f"from={OLD}&to={OLD}&format=csv", f"from={OLD}&to={OLD}&granularity=month"])
def test_old_days_show_no_spend_on_free(api, user, query):
    for i in range(5):
        push(user.workspace_id, OLD + timedelta(days=i), "12.50")
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?{query}", token=user.token)
    assert r.status == 200, r.body
    if "csv" in query:
        assert "12.5" not in r.text
        return
    assert all(Decimal(t["spend"]) == 0 for t in r.json["totals"]), r.json["totals"]
    assert r.json["notice"]["code"] == "history_clipped"


def test_recent_days_still_show(api, user):
    push(user.workspace_id, TODAY - timedelta(days=3), "7")
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={OLD}&to={TODAY}", token=user.token)
    assert sum(Decimal(t["spend"]) for t in r.json["totals"]) == 7
    assert r.json["notice"]["from"] == str(TODAY - timedelta(days=29))


def test_forecast_and_insights_read_nothing_before_the_window(api, user, monkeypatch):
    from chalicelib.services import usage_queries

    for i in range(40, 70):
        push(user.workspace_id, TODAY - timedelta(days=i), "10")
    seen = []
    real = usage_queries.daily_spend

    def spy(ws, start, end, *args, **kwargs):
        seen.append(start)
        return real(ws, start, end, *args, **kwargs)

    monkeypatch.setattr(usage_queries, "daily_spend", spy)
    r = api.get(f"/api/workspaces/{user.workspace_id}/forecast", token=user.token)
    assert r.status == 200, r.body
    assert r.json["status"] == "insufficient_history" and r.json["history_days"] == 0
    r = api.get(f"/api/workspaces/{user.workspace_id}/insights", token=user.token)
    assert r.status == 200, r.body
    assert seen and min(seen) >= TODAY - timedelta(days=29)
