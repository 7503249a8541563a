from datetime import date

import pytest

from chalicelib.domain.plans import (
    FREE,
    PLANS,
    PRO,
    TEAM,
    InvalidSelection,
    Limit,
    PlanLimitExceeded,
    UnknownPlan,
    cheapest_plan_allowing,
    check_limit,
    check_value,
    choose_active,
    clip_history,
    get_plan,
    price_map,
)


def test_table_holds_free_pro_team_with_prices_from_config_keys():
    assert [p.name for p in PLANS] == ["free", "pro", "team"]
    assert (FREE.price_cents_per_month, PRO.price_cents_per_month, TEAM.price_cents_per_month) == (0, 900, 2900)
    assert FREE.price_config_key is None
    assert PRO.price_config_key == "STRIPE_PRICE_PRO"
    assert TEAM.price_config_key == "STRIPE_PRICE_TEAM"


@pytest.mark.parametrize("limit", list(Limit))
def test_every_limit_loosens_from_free_to_team(limit):
    values = [plan.limit(limit) for plan in PLANS]
    expected = sorted(values, reverse=limit.lower_is_better)
    assert values == expected and len(set(values)) == 3


def test_get_plan_by_name_and_unknown():
    assert get_plan("pro") is PRO
    assert get_plan("Team") is TEAM
    assert get_plan(FREE) is FREE
    with pytest.raises(UnknownPlan):
        get_plan("enterprise")


def test_check_limit_allows_up_to_the_limit():
    check_limit("free", Limit.CONNECTIONS, current_count=FREE.limits.connections - 1)
    check_limit(PRO, Limit.ALERT_RULES, current_count=0, adding=PRO.limits.alert_rules)


def test_check_limit_names_limit_plan_and_cheapest_upgrade():
    with pytest.raises(PlanLimitExceeded) as raised:
        check_limit("free", Limit.CONNECTIONS, current_count=FREE.limits.connections)
    e = raised.value
    assert (e.limit, e.plan, e.current, e.allowed, e.upgrade_to) == (
        Limit.CONNECTIONS,
        "free",
        FREE.limits.connections + 1,
        FREE.limits.connections,
        "pro",
    )
    body = e.to_dict()
    assert body["code"] == "plan_limit" and body["upgrade_to"] == "pro"
    assert "Pro" in body["message"]


def test_upgrade_skips_a_plan_that_would_not_lift_the_limit():
    too_many_for_pro = PRO.limits.connections + 1
    with pytest.raises(PlanLimitExceeded) as raised:
        check_limit("free", Limit.CONNECTIONS, current_count=0, adding=too_many_for_pro)
    assert raised.value.upgrade_to == "team"


def test_no_upgrade_when_no_plan_allows_it():
    with pytest.raises(PlanLimitExceeded) as raised:
        check_limit("team", Limit.MEMBERS, current_count=TEAM.limits.members)
    assert raised.value.upgrade_to is None
    assert "Upgrade" not in str(raised.value)


def test_events_per_month_counts_the_batch():
    used = FREE.limits.events_per_month - 10
    check_limit("free", Limit.EVENTS_PER_MONTH, used, adding=10)
    with pytest.raises(PlanLimitExceeded):
        check_limit("free", Limit.EVENTS_PER_MONTH, used, adding=11)


def test_sync_interval_is_a_floor():
    check_limit("pro", Limit.MIN_SYNC_INTERVAL_MINUTES, PRO.limits.min_sync_interval_minutes)
    check_value("pro", Limit.MIN_SYNC_INTERVAL_MINUTES, 60)
    with pytest.raises(PlanLimitExceeded) as raised:
        check_limit("free", Limit.MIN_SYNC_INTERVAL_MINUTES, 5)
    assert raised.value.upgrade_to == "team"
    assert raised.value.allowed == FREE.limits.min_sync_interval_minutes


def test_cheapest_plan_allowing():
    assert cheapest_plan_allowing(Limit.CONNECTIONS, 1) is FREE
    assert cheapest_plan_allowing(Limit.HISTORY_DAYS, FREE.limits.history_days + 1) is PRO
    assert cheapest_plan_allowing(Limit.MIN_SYNC_INTERVAL_MINUTES, PRO.limits.min_sync_interval_minutes) is PRO
    assert cheapest_plan_allowing(Limit.MEMBERS, TEAM.limits.members + 1) is None


def test_price_map_from_stage_config():
    config = {"STRIPE_PRICE_PRO": "price_123", "STRIPE_PRICE_TEAM": "price_456", "OTHER": "x"}
    assert price_map(config) == {"price_123": "pro", "price_456": "team"}
    assert price_map({"STRIPE_PRICE_PRO": "price_123"}) == {"price_123": "pro"}


def test_clip_history_to_the_plan_window():
    today = date(2026, 5, 31)
    clipped, was_clipped = clip_history("free", date(2025, 1, 1), today)
    assert (clipped, was_clipped) == (date(2026, 5, 2), True)  # 30 days including today
    assert (today - clipped).days + 1 == FREE.limits.history_days
    assert clip_history("free", date(2026, 5, 2), today) == (date(2026, 5, 2), False)
    assert clip_history("pro", date(2026, 1, 1), today) == (date(2026, 1, 1), False)


def test_choose_active_keeps_oldest_by_default():
    items = {"c": 3, "a": 1, "b": 2, "d": 4}
    choice = choose_active(items, allowed=2)
    assert choice.active == ("a", "b")
    assert choice.paused == ("c", "d")


def test_choose_active_owner_choice_first_then_oldest():
    items = {"c": 3, "a": 1, "b": 2, "d": 4}
    assert choose_active(items, allowed=2, keep_ids=["d"]).active == ("d", "a")
    assert choose_active(items, allowed=2, keep_ids=["d", "c"]).paused == ("a", "b")


def test_choose_active_under_the_limit_pauses_nothing_and_ties_break_by_id():
    assert choose_active({"b": 1, "a": 1}, allowed=5).active == ("a", "b")
    assert choose_active({}, allowed=0).paused == ()


def test_choose_active_rejects_bad_owner_choice():
    with pytest.raises(InvalidSelection):
        choose_active({"a": 1}, allowed=1, keep_ids=["zzz"])
    with pytest.raises(InvalidSelection):
        choose_active({"a": 1, "b": 2}, allowed=1, keep_ids=["a", "b"])
