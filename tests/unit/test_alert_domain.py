"""Pure alert logic: UTC periods, thresholds and budget levels, keys, channel checks, signatures,
and what a notification says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chalicelib.domain import alert_channels, alert_messages, alerts
from chalicelib.domain.alert_messages import Contributor, ForecastFacts, Notification
from chalicelib.domain.alerts import Kind, Period, Rule, Scope


@pytest.mark.parametrize("period, today, start, end, key", [
    (Period("daily"), date(2026, 12, 31), date(2026, 12, 31), date(2026, 12, 31), "d2026-12-31"),
    (Period("weekly"), date(2026, 11, 1), date(2026, 10, 26), date(2026, 11, 1), "w2026-W44"),  # a Sunday
    (Period("weekly"), date(2026, 11, 2), date(2026, 11, 2), date(2026, 11, 8), "w2026-W45"),  # the Monday after
    (Period("weekly"), date(2027, 1, 1), date(2026, 12, 28), date(2027, 1, 3), "w2026-W53"),  # ISO year
    (Period("monthly"), date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29), "m2028-02"),
    (Period("monthly"), date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31), "m2026-12"),
    # r7-2966: (2026-11-10 - 1970-01-01).days // 7
    (Period("rolling", 7), date(2026, 11, 10), date(2026, 11, 4), date(2026, 11, 10), "r7-2966"),
])
def test_windows_are_utc_calendar_periods(period, today, start, end, key):
    w = alerts.window(period, today)
    assert (w.start, w.end, w.key) == (start, end, key)
    assert w.days_left == (end - today).days


def test_period_keys_change_exactly_at_the_boundary():
    sunday, monday = date(2026, 11, 8), date(2026, 11, 9)
    assert alerts.window(Period("weekly"), sunday).key != alerts.window(Period("weekly"), monday).key
    assert (alerts.window(Period("monthly"), date(2026, 11, 30)).key
            != alerts.window(Period("monthly"), date(2026, 12, 1)).key)
    blocks = {alerts.window(Period("rolling", 7), date(2026, 11, d)).key for d in range(1, 31)}
    assert 4 <= len(blocks) <= 6  # a rolling alert fires at most once per 7-day block


def test_the_share_of_today_left_is_of_the_utc_day():
    assert alerts.share_of_today_left(datetime(2026, 12, 3, 0, 0, tzinfo=UTC)) == 1.0
    assert alerts.share_of_today_left(datetime(2026, 12, 3, 18, 0, tzinfo=UTC)) == 0.25
    # 20:00 in UTC-6 is 02:00 UTC the next day
    central = timezone(timedelta(hours=-6))
    assert alerts.share_of_today_left(datetime(2026, 12, 3, 20, 0, tzinfo=central)) == pytest.approx(11 / 12)
    assert 0 < alerts.share_of_today_left(datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)) < 1e-4


def test_threshold_is_strictly_exceeded():
    assert not alerts.exceeds(Decimal(50), Decimal(50))
    assert alerts.exceeds(Decimal("50.000001"), Decimal(50))


def test_budget_levels_exact_and_several_at_once():
    assert alerts.levels_reached(Decimal("39.99"), Decimal(50), (50, 80)) == (50,)
    assert alerts.levels_reached(Decimal("40.00"), Decimal(50), (50, 80)) == (50, 80)
    assert alerts.levels_reached(Decimal("0.1") + Decimal("0.2"), Decimal("0.3"), (100,)) == (100,)
    reached = alerts.levels_reached(Decimal(95), Decimal(100), alerts.DEFAULT_LEVELS)
    assert reached == (50, 80, 90)
    assert alerts.new_levels(reached, [50]) == (80, 90)
    assert alerts.percent_of(Decimal(106), Decimal(100)) == Decimal("106.0")


def test_keys_and_other_decisions():
    assert alerts.firing_key("al_1", "w2026-W45", 80) == "al_1:w2026-W45:80"
    assert alerts.forecast_overrun(0.8, 0.8) and not alerts.forecast_overrun(None, 0.1)
    assert alerts.failing_long_enough(None, "error", 100, 60)  # a rejected key alerts at once
    assert not alerts.failing_long_enough(1000, "active", 1000 + 59 * 60, 60)
    assert alerts.failing_long_enough(1000, "active", 1000 + 60 * 60, 60)
    assert alerts.digest_window("daily", date(2026, 11, 2)) == (date(2026, 11, 1), date(2026, 11, 1), "d2026-11-01")
    assert alerts.digest_window("weekly", date(2026, 11, 4)) == (date(2026, 10, 26), date(2026, 11, 1), "w2026-W44")


def test_rule_config_round_trip_and_validation():
    rule = Rule.from_config("ws", "al_1", "Budget", "budget", {
        "amount": "100", "period": {"kind": "rolling", "days": 14}, "scope": {"dimension": "model", "value": "gpt-4o"},
        "levels": [100, 50, 50]})
    assert rule.levels == (50, 100) and rule.scope.filters() == {"model": frozenset({"gpt-4o"})}
    assert Rule.from_config("ws", "al_1", "Budget", "budget", rule.config()) == rule
    alerts.validate(rule)
    with pytest.raises(ValueError, match=r"^amount"):
        alerts.validate(Rule("ws", "a", "n", Kind.THRESHOLD, amount=Decimal(0)))
    with pytest.raises(ValueError, match=r"^period"):
        alerts.validate(Rule("ws", "a", "n", Kind.FORECAST, amount=Decimal(1), period=Period("rolling", 3)))
    with pytest.raises(ValueError):
        Period("rolling", 0)
    with pytest.raises(ValueError):
        Scope("region", "eu")
    assert Scope("customer", "c1").label == "Spend on customer c1"  # a scope since the budget circuit breaker
    assert Scope("provider", "openai").label == "OpenAI spend" and Scope().label == "All spend"


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1:9000/hook", "webhook"),
    ("https://10.0.0.5/hook", "webhook"),
    ("https://169.254.169.254/latest/meta-data", "webhook"),
    ("https://[::1]/x", "webhook"),
    ("https://localhost/x", "webhook"),
    ("https://db.internal/x", "webhook"),
    ("https://user:pw@example.com/x", "webhook"),
    ("https://example.com/services/x", "slack"),
    ("https://hooks.slack.com/other", "slack"),
    ("https://evil.example/api/webhooks/1/x", "discord"),
    ("ftp://example.com/x", "webhook"),
])
def test_strict_rules_refuse_private_and_odd_targets_by_default(url, kind):
    with pytest.raises(alert_channels.ChannelInvalid) as e:
        alert_channels.check_url(url, kind)
    assert url not in str(e.value)


def test_valid_targets_and_local_receivers():
    for url, kind in [("https://hooks.slack.com/services/T0/B0/abcd", "slack"),
                      ("https://discord.com/api/webhooks/1/tok", "discord"),
                      ("https://example.com/costpilot", "webhook")]:
        assert alert_channels.check_url(url, kind) == url
    assert alert_channels.check_url("http://127.0.0.1:8025/hooks/slack", "slack", allow_local=True)
    with pytest.raises(alert_channels.ChannelInvalid):
        alert_channels.check_url("file:///etc/passwd", "webhook", allow_local=True)
    assert alert_channels.is_public_ip("8.8.8.8") and not alert_channels.is_public_ip("::ffff:127.0.0.1")


def test_url_hint_hides_the_token():
    hint = alert_channels.url_hint("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXXa1b2")
    assert hint == "https://hooks.slack.com/…a1b2" and "secret" not in hint


def test_webhook_signature():
    header = alert_channels.sign("whsec_x", 1_700_000_000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=")
    assert alert_channels.verify("whsec_x", header, b'{"a":1}', now=1_700_000_100)
    assert not alert_channels.verify("whsec_x", header, b'{"a":2}', now=1_700_000_100)
    assert not alert_channels.verify("whsec_y", header, b'{"a":1}', now=1_700_000_100)
    assert not alert_channels.verify("whsec_x", header, b'{"a":1}', now=1_700_000_000 + 301)
    assert not alert_channels.verify("whsec_x", "garbage", b"", now=0)


def _notification(**kw) -> Notification:
    base = {"workspace_id": "ws", "alert_id": "al_1", "alert_name": "OpenAI <weekly>", "kind": "threshold",
                "key": "al_1:w2026-W45:100", "headline": "OpenAI spend is $63.20 this week, over your $50.00 threshold",
                "figure": Decimal("63.2"), "threshold": Decimal(50), "level": "100",
                "period_label": "this week (Mon 2 Nov...)",
                "scope_label": "OpenAI spend",
                "contributors": {"model": [Contributor("gpt-4o", Decimal("40.1")), Contributor("o3", Decimal("23.1"))]},
                "forecast": ForecastFacts(Decimal(120), Decimal("95.5"), Decimal(150), 0.8, 0.97),
                "alert_url": "http://x/app/workspaces/ws/alerts/al_1", "manage_url": "http://x/app/workspaces/ws/alerts"}
    return Notification(**{**base, **kw})


def test_every_channel_explains_the_breach():
    n = _notification()
    mail = alert_messages.render_email(n)
    assert mail.subject == "[CostPilot] OpenAI spend is $63.20 this week, over your $50.00 threshold"
    for body in (mail.text, mail.html):
        for needle in ("$63.20", "$50.00", "this week", "gpt-4o", "$40.10", "$120.00", "97%", "/alerts/al_1"):
            assert needle in body, needle
    assert "OpenAI &lt;weekly&gt;" in mail.html and "<weekly>" not in mail.html  # escaped
    slack = alert_messages.render_slack(n)
    assert "$63.20" in slack["blocks"][1]["text"]["text"] and "gpt-4o" in slack["blocks"][2]["text"]["text"]
    discord = alert_messages.render_discord(n)
    assert discord["embeds"][0]["fields"][0] == {"name": "Spend", "value": "$63.20", "inline": True}
    hook = alert_messages.render_webhook(n)
    assert hook["figure"] == "63.2" and hook["forecast"]["probability_over"] == 0.97 and hook["type"] == "alert.fired"


def test_notification_round_trips_through_storage():
    n = _notification(levels=("50", "80"), details=("Last error: x",), test=True)
    assert Notification.from_json(n.to_json()) == n
    assert alert_messages.money(Decimal("0.004")) == "$0.004" and alert_messages.money(Decimal("1234.5")) == "$1,234.50"
