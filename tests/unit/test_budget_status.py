"""The circuit breaker's decisions (domain.budget_status): exact thresholds, the warning level,
which budgets cover a scope, period rollover and reset times. Fixed dates, no clock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.alerts import Period, Scope
from chalicelib.domain.budget_status import BadScope, answer, entry, parse_scope, state_of, warn_percent

DAY = date(2026, 3, 31)
ALL, MONTHLY = Scope(), Period("monthly")


def e(alert_id="al_1", scope=ALL, spent="0", budget="50", period=MONTHLY, levels=(50, 80, 90, 100),
      today=DAY):
    return entry(alert_id=alert_id, scope=scope, period=period, today=today, spent=Decimal(spent),
                 budget=Decimal(budget), currency="USD", levels=levels)


def test_states_are_exact_at_the_warning_level_and_the_budget():
    assert state_of(Decimal("39.99"), Decimal(50), 80) == "ok"
    assert state_of(Decimal("40.00"), Decimal(50), 80) == "warn"
    assert state_of(Decimal("49.999999"), Decimal(50), 80) == "warn"
    assert state_of(Decimal(50), Decimal(50), 80) == "over"


def test_the_warning_level_is_the_highest_under_100_else_80():
    assert warn_percent((50, 80, 90, 100)) == 90
    assert warn_percent((100,)) == 80
    assert warn_percent((100, 120)) == 80
    assert warn_percent((30,)) == 30


@pytest.mark.parametrize("text,key", [(None, ""), ("", ""), ("provider:openai", "provider:openai"),
                                      (" Feature : search ", "feature:search"), ("customer:a:b", "customer:a:b")])
def test_scopes_parse_to_a_canonical_key(text, key):
    assert parse_scope(text) == key


@pytest.mark.parametrize("text", ["provider", "provider:", "region:eu", "provider:\x00", "model:" + "m" * 201])
def test_bad_scopes_are_refused(text):
    with pytest.raises(BadScope):
        parse_scope(text)


def test_the_tightest_covering_budget_decides():
    entries = [e("al_all", spent="30", budget="100"), e("al_oai", Scope("provider", "openai"), "45", "50"),
               e("al_ant", Scope("provider", "anthropic"), "60", "50")]
    oai = answer(entries, "provider:openai", DAY)
    assert (oai["state"], oai["alert_id"], oai["warn_at"]) == ("warn", "al_oai", "45")
    assert answer(entries, "provider:anthropic", DAY)["state"] == "over"
    assert answer(entries, "", DAY)["alert_id"] == "al_all"  # all spend: only workspace-wide budgets
    assert answer(entries, "feature:x", DAY)["alert_id"] == "al_all"
    assert answer(entries[1:], "feature:x", DAY)["budget"] is None


def test_a_fixed_period_that_ended_reads_as_the_new_one_with_nothing_spent():
    over = [e(spent="80", budget="50")]
    assert answer(over, "", DAY)["resets_at"] == "2026-04-01T00:00:00+00:00"
    later = answer(over, "", date(2026, 4, 1))
    assert (later["state"], later["spent"], later["period_start"]) == ("ok", "0", "2026-04-01")
    assert later["resets_at"] == "2026-05-01T00:00:00+00:00"


def test_weekly_daily_and_rolling_reset_times():
    assert answer([e(period=Period("weekly"))], "", DAY)["resets_at"] == "2026-04-06T00:00:00+00:00"  # a Tuesday
    assert answer([e(period=Period("daily"))], "", DAY)["resets_at"] == "2026-04-01T00:00:00+00:00"
    rolling = [e(spent="60", period=Period("rolling", 7))]
    now = answer(rolling, "", DAY)
    assert (now["period"], now["period_start"], now["resets_at"]) == ("rolling_7d", "2026-03-25",
                                                                      "2026-04-01T00:00:00+00:00")
    assert answer(rolling, "", date(2026, 4, 2))["state"] == "over"  # kept until the next evaluation
