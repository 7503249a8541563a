"""What the forecast and insights pages read: the backtest in words on a Free workspace's 30 days,
insights that compare what the plan keeps (nothing is "new" merely because its past is out of
view), each with the monthly saving it would bring; the banner's firings say what drove them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.alerts import Kind, Rule, window
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.services import alert_facts, dashboard, usage_queries
from chalicelib.store import pushed_events

TODAY = date(2026, 11, 18)


@pytest.fixture
def fixed_today(monkeypatch):
    monkeypatch.setattr(usage_queries, "clock", lambda: datetime.combine(TODAY, time(12), UTC))


def call(ws: str, at: datetime, cost: Decimal, event_id: str, feature: str = "chat") -> UsageRecord:
    """One pushed gpt-4o call at ``at`` that cost ``cost``."""
    return UsageRecord(ws, RecordKind.EVENT, "push:k", "openai", at, at + timedelta(seconds=1), model="gpt-4o",
                       unit_type="tokens", units=Decimal(1000), feature=feature, billed_cost=cost,
                       idempotency_id=event_id)


def seed(ws: str, days: int, new_feature_days: int = 0) -> None:
    """Pushed gpt-4o calls for ``days`` days tagged feature=chat ($10-16 a day); the last
    ``new_feature_days`` also $4 a day of feature=agent."""
    events = []
    for i in range(days, 0, -1):
        at = datetime.combine(TODAY - timedelta(days=i), time(12), UTC)
        tags = [("chat", Decimal(10) + Decimal(i % 7))] + ([("agent", Decimal(4))] if i <= new_feature_days else [])
        events += [call(ws, at, cost, f"e-{i}-{feature}", feature) for feature, cost in tags]
    pushed_events.add_events(ws, events)


def test_free_workspace_gets_a_short_backtest_in_words(api, user, fixed_today):
    seed(user.workspace_id, 40)
    body = api.get(f"/api/workspaces/{user.workspace_id}/forecast", token=user.token).json
    acc = body["accuracy"]
    assert body["history_days"] == 29 and acc["check"] == "short"  # Free keeps 30 days, today excluded
    assert acc["origins"] == 2 and acc["horizon"] == 7 and acc["days_checked"] == 14
    assert acc["mase"] is not None and 0 <= acc["coverage"] <= 1
    assert f"off by about ${acc['typical_daily_error']}" in acc["summary"]
    assert f"{round(acc['coverage'] * 14)} of 14 days fell inside the 80% range" in acc["summary"]


def test_a_forecast_without_enough_history_says_so_in_words(api, user, fixed_today):
    seed(user.workspace_id, 12)
    acc = api.get(f"/api/workspaces/{user.workspace_id}/forecast", token=user.token).json["accuracy"]
    assert acc["check"] == "none" and acc["mase"] is None and "Not enough history" in acc["summary"]


def test_insights_compare_the_halves_a_free_plan_keeps_with_a_monthly_saving(api, user, fixed_today):
    seed(user.workspace_id, 40, new_feature_days=10)
    body = api.get(f"/api/workspaces/{user.workspace_id}/insights", token=user.token).json
    assert body["days"] == 15 and body["from"] == "2026-11-04" and body["previous"]["from"] == "2026-10-20"
    new = [i for i in body["insights"] if i["kind"] == "new_costly_tag"]
    # chat spent in both halves: only agent, which started ten days ago, is new
    assert [i["figures"]["name"] for i in new] == ["agent"], body
    assert new[0]["figures"]["cost"] == "40"  # 10 days of $4 within the last 15 (today has none yet)
    assert new[0]["saving"]["monthly"] == "80"  # 15 days' $40 at a 30-day month
    assert all("how" in i["saving"] for i in body["insights"])


def test_saving_per_kind():
    assert dashboard  # the module the banner uses imports cleanly
    from chalicelib.services.forecasting import saving

    assert saving("cheaper_model", {"monthly_saving": Decimal("12.5"), "model": "a", "cheaper_model": "b"},
                  30) == {"monthly": "12.5", "how": "Move a's calls to b."}
    assert saving("fast_growth", {"dimension": "model", "name": "m", "current": "30", "previous": "10"},
                  15)["monthly"] == "40"
    assert saving("fast_growth", {"dimension": "model", "name": "m", "current": "5", "previous": "10"},
                  30)["monthly"] is None
    assert saving("cost_concentration", {"dimension": "provider", "name": "openai"}, 30)["monthly"] is None


def test_the_summary_looks_the_plan_up_once(api, user, fixed_today, monkeypatch):
    """The summary reads the plan once, for the clipped usage query and the forecast's history."""
    from chalicelib.services import plan_limits

    seed(user.workspace_id, 40)
    looked_up = []
    original = plan_limits.current_plan

    def counted(workspace_id, now=None):
        looked_up.append(workspace_id)
        return original(workspace_id, now)

    monkeypatch.setattr(plan_limits, "current_plan", counted)
    r = api.get(f"/api/workspaces/{user.workspace_id}/summary?days=30", token=user.token)
    assert r.status == 200, r.body
    assert r.json["notice"]["from"] == "2026-10-20" and r.json["forecast"]["history_days"] == 29
    assert looked_up == [user.workspace_id]


def test_saving_words_for_total_growth():
    from chalicelib.services.forecasting import saving

    assert saving("fast_growth", {"dimension": "total", "name": "all", "current": "20", "previous": "10"},
                  30)["how"] == "Bring spend back to last period's level."


def loop_this_morning(ws: str) -> None:
    """$600 of gpt-4o pushed at 09:00 today: a runaway loop."""
    at = datetime.combine(TODAY, time(9), UTC)
    pushed_events.add_events(ws, [call(ws, at, Decimal(600), "loop")])


def test_what_today_has_cost_counts_at_the_month_end_and_midnight_barely_moves_it(api, user, monkeypatch):
    """A loop ran this morning: the month-end projection counts its $600 at once (not a usual day's
    forecast in its place), and when the day ends and its spend becomes yesterday's, the projection
    moves by less than a usual day's spend, not by the loop."""
    seed(user.workspace_id, 40)  # $10-16 a day up to yesterday
    loop_this_morning(user.workspace_id)

    def period_end(now: datetime) -> dict:
        monkeypatch.setattr(usage_queries, "clock", lambda: now)
        return api.get(f"/api/workspaces/{user.workspace_id}/forecast", token=user.token).json["period_end"]

    late = period_end(datetime.combine(TODAY, time(23, 30), UTC))
    assert Decimal(late["today_so_far"]) == 600
    assert Decimal(late["lower"]) > Decimal(late["spent_so_far"]) + 600
    after = period_end(datetime.combine(TODAY + timedelta(days=1), time(0, 30), UTC))
    assert Decimal(after["today_so_far"]) == 0 and Decimal(after["spent_so_far"]) > 600
    assert abs(Decimal(after["projected"]) - Decimal(late["projected"])) < 10, (late, after)


def _alert_and_page(api, user, monkeypatch) -> tuple:
    """A $900 monthly budget alert's projection facts at 15:00 today, and the forecast page's."""
    now = datetime.combine(TODAY, time(15), UTC)
    monkeypatch.setattr(usage_queries, "clock", lambda: now)
    page = api.get(f"/api/workspaces/{user.workspace_id}/forecast?budget=900", token=user.token).json["period_end"]
    rule = Rule(user.workspace_id, "a1", "Monthly budget", Kind.BUDGET, amount=Decimal(900))
    w = window(rule.period, TODAY)
    spend = alert_facts.Spend(user.workspace_id, now)
    facts = alert_facts.projection(spend, rule, w, spend.total(w.start, w.end, rule.scope, rule.currency))
    return (str(facts.mean), str(facts.lower), str(facts.upper)), (page["projected"], page["lower"], page["upper"])


def test_a_budget_alert_projects_the_month_end_as_the_forecast_page_does(api, user, monkeypatch):
    """The email's "heading for" figure and its range are the dashboard's, today's runaway included,
    on a workspace four weeks old: the weeks before its first spend are no history of zeros (read
    as such, they moved its figure to $976.77 and widened its range to $4,308.70; the page said $982.75)."""
    seed(user.workspace_id, 29)
    loop_this_morning(user.workspace_id)
    alert, page = _alert_and_page(api, user, monkeypatch)
    assert alert == page


def test_an_alert_reads_the_history_the_page_reads_not_a_fixed_eight_weeks(api, user, monkeypatch):
    """Free keeps 30 days: spend older than that moves neither the page's projection nor the email's.
    (Alerts read a fixed 56 days; this workspace's pricier days before the window made the email say
    $968.25, between $917.10 and $1,071.13, where the page said $982.75.)"""
    seed(user.workspace_id, 40)
    pushed_events.add_events(user.workspace_id, [
        call(user.workspace_id, datetime.combine(TODAY - timedelta(days=i), time(13), UTC),
             Decimal(50 + 9 * (i % 3)), f"old-{i}") for i in range(31, 41)])
    loop_this_morning(user.workspace_id)
    alert, page = _alert_and_page(api, user, monkeypatch)
    assert alert == page
