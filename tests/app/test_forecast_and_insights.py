"""Forecast and insights endpoints over real rollups."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.store import usage


def seed_history(ws: str, days: int, daily: Decimal, provider="openai", model="gpt-4o", jump_last=0):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(7)
    for i in range(days, 0, -1):
        day = today - timedelta(days=i)
        amount = daily * Decimal(rng.randint(90, 110)) / 100
        if day.weekday() >= 5:
            amount /= 2
        if i <= jump_last:
            amount *= 2
        rec = UsageRecord(ws, RecordKind.COST, "sync:c", provider, day, day + timedelta(days=1), model=model,
                          billed_cost=amount.quantize(Decimal("0.0001")))
        usage.replace_sync_day(ws, "c", day.date().isoformat(), [rec])


def test_forecast_has_bands_projection_risk_and_accuracy(api, user, monkeypatch):
    from chalicelib.domain.plans import PRO
    from chalicelib.services import plan_limits

    monkeypatch.setattr(plan_limits, "current_plan", lambda workspace_id, now=None: PRO)  # Free sees 30 days only
    seed_history(user.workspace_id, 120, Decimal(20))
    r = api.get(f"/api/workspaces/{user.workspace_id}/forecast?horizon=14&budget=100", token=user.token)
    assert r.status == 200, r.body
    body = r.json
    assert body["status"] == "ok" and len(body["series"]) == 14 and body["timezone"] == "UTC"
    for point in body["series"]:
        assert Decimal(point["lower"]) <= Decimal(point["mean"]) <= Decimal(point["upper"])
    weekday = [Decimal(p["mean"]) for p in body["series"] if datetime.fromisoformat(p["day"]).weekday() < 5]
    weekend = [Decimal(p["mean"]) for p in body["series"] if datetime.fromisoformat(p["day"]).weekday() >= 5]
    assert min(weekday) > max(weekend)  # the weekly pattern is reproduced
    pe = body["period_end"]
    assert Decimal(pe["lower"]) <= Decimal(pe["projected"]) <= Decimal(pe["upper"])
    assert pe["probability_over_budget"] > 0.9 and body["risk"] == "high"  # ~$400+/month vs $100
    assert body["accuracy"]["mase"] is not None and 0 <= body["accuracy"]["coverage"] <= 1


def test_forecast_scope_short_history_and_bad_params(api, user):
    seed_history(user.workspace_id, 2, Decimal(5))
    r = api.get(f"/api/workspaces/{user.workspace_id}/forecast?provider=openai", token=user.token)
    assert r.json["status"] == "insufficient_history"
    r = api.get(f"/api/workspaces/{user.workspace_id}/forecast?provider=anthropic", token=user.token)
    assert r.json["history_days"] == 0
    for bad in ("horizon=3", "horizon=abc", "budget=-5", "period=year", "color=red"):
        r = api.get(f"/api/workspaces/{user.workspace_id}/forecast?{bad}", token=user.token)
        assert r.status == 400, bad


def test_insights_flag_concentration(api, user):
    seed_history(user.workspace_id, 40, Decimal(50))
    r = api.get(f"/api/workspaces/{user.workspace_id}/insights", token=user.token)
    assert r.status == 200
    kinds = {i["kind"] for i in r.json["insights"]}
    assert "cost_concentration" in kinds, r.json
