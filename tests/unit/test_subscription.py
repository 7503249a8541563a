import itertools
from dataclasses import replace

import pytest

from chalicelib.domain.subscription import (
    GRACE_SECONDS,
    SubscriptionState,
    UnknownPrice,
    apply_event,
    effective_plan,
)

PRICES = {"price_pro": "pro", "price_team": "team"}
T0 = 1_780_000_000
DAY = 24 * 3600
PERIOD_END = T0 + 30 * DAY
_ids = itertools.count(1)


def event(kind, obj, created, previous=None):
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": f"evt_{next(_ids)}",
        "object": "event",
        "api_version": "2026-06-24.dahlia",
        "created": created,
        "livemode": False,
        "type": kind,
        "data": data,
    }


def subscription(status="active", price="price_pro", cancel_at_period_end=False, period_end=PERIOD_END, sub_id="sub_1"):
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "cancel_at": None,
        "cancel_at_period_end": cancel_at_period_end,
        "items": {
            "object": "list",
            "data": [{"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price"},
                      "current_period_start": period_end - 30 * DAY, "current_period_end": period_end}],
        },
    }


def sub_event(kind="updated", created=T0, **fields):
    return event(f"customer.subscription.{kind}", subscription(**fields), created)


def checkout_completed(created=T0, sub_id="sub_1"):
    session = {"id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "status": "complete",
               "customer": "cus_1", "subscription": sub_id, "client_reference_id": "ws_1"}
    return event("checkout.session.completed", session, created)


def invoice_event(kind, created, sub_id="sub_1"):
    invoice = {"id": f"in_{created}", "object": "invoice", "customer": "cus_1",
               "status": "paid" if kind == "invoice.paid" else "open",
               "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub_id}}}
    return event(kind, invoice, created)


def fold(events, state=None):
    state = state or SubscriptionState()
    for e in events:
        state = apply_event(state, e, PRICES)
    return state


def test_checkout_flow_provisions_pro():
    state = fold([checkout_completed(), sub_event("created"), invoice_event("invoice.paid", T0)])
    assert (state.plan, state.status, state.price_id) == ("pro", "active", "price_pro")
    assert (state.stripe_customer_id, state.stripe_subscription_id) == ("cus_1", "sub_1")
    assert state.current_period_end == PERIOD_END
    assert effective_plan(state, T0 + 1) == ("pro", None)


def test_checkout_flow_ends_the_same_in_any_order():
    events = [checkout_completed(T0 + 1), sub_event("created", T0), invoice_event("invoice.paid", T0 + 1)]
    results = {fold(order) for order in itertools.permutations(events)}
    assert len(results) == 1
    assert results.pop().plan == "pro"


def test_duplicate_events_are_idempotent():
    events = [checkout_completed(), sub_event("created"), invoice_event("invoice.paid", T0)]
    once = fold(events)
    assert fold(events + events) == once
    assert fold([e for e in events for _ in range(2)]) == once


def test_subscription_update_before_checkout_completed_ends_right():
    state = fold([sub_event("updated", T0 + 5, price="price_team"), checkout_completed(T0 + 9)])
    assert (state.plan, state.status, state.stripe_subscription_id) == ("team", "active", "sub_1")
    assert state.last_event_created == T0 + 5


def test_old_update_after_newer_one_does_not_regress():
    upgraded = fold([sub_event("created", T0), sub_event("updated", T0 + 100, price="price_team")])
    late = apply_event(upgraded, sub_event("updated", T0 + 50, cancel_at_period_end=True), PRICES)
    assert late == upgraded
    assert late.plan == "team" and late.cancel_at_period_end is False


def test_stale_event_still_fills_missing_ids():
    newer = replace(apply_event(SubscriptionState(), sub_event("updated", T0 + 100), PRICES), stripe_customer_id=None)
    filled = apply_event(newer, sub_event("updated", T0, status="canceled"), PRICES)
    assert filled.stripe_customer_id == "cus_1"
    assert filled.status == "active"


def test_upgrade_is_not_lost_behind_its_own_later_invoice():
    state = fold([sub_event("created", T0)])
    state = fold([invoice_event("invoice.paid", T0 + 2), sub_event("updated", T0 + 1, price="price_team")], state)
    assert state.plan == "team"


def test_cancel_at_period_end_keeps_pro_until_then_then_free():
    state = fold([sub_event("created", T0), sub_event("updated", T0 + DAY, cancel_at_period_end=True)])
    plan, notice = effective_plan(state, PERIOD_END - 1)
    assert plan == "pro"
    assert notice.code == "cancels_at_period_end" and notice.until == PERIOD_END
    assert effective_plan(state, PERIOD_END) == ("free", None)
    # Stripe then sends customer.subscription.deleted
    ended = apply_event(state, sub_event("deleted", PERIOD_END, status="canceled", cancel_at_period_end=True), PRICES)
    assert (ended.plan, ended.status) == ("free", "canceled")
    assert effective_plan(ended, PERIOD_END - 1) == ("free", None)


def test_deleted_is_free_and_a_late_update_does_not_revive_it():
    state = fold([sub_event("created", T0), sub_event("deleted", T0 + 10, status="canceled")])
    state = apply_event(state, sub_event("updated", T0 + 5), PRICES)
    assert (state.plan, state.status) == ("free", "canceled")
    assert effective_plan(state, T0 + 20) == ("free", None)


def test_past_due_keeps_plan_for_seven_days_with_a_warning_then_free():
    failed_at = T0 + 30 * DAY
    state = fold([sub_event("created", T0), invoice_event("invoice.payment_failed", failed_at)])
    assert (state.status, state.past_due_since) == ("past_due", failed_at)
    plan, notice = effective_plan(state, failed_at + GRACE_SECONDS - 1)
    assert plan == "pro" and notice.code == "past_due_grace" and notice.until == failed_at + GRACE_SECONDS
    plan, notice = effective_plan(state, failed_at + GRACE_SECONDS)
    assert plan == "free" and notice.code == "past_due_downgraded"


def test_past_due_since_is_the_first_failure_and_payment_clears_it():
    failed_at = T0 + 30 * DAY
    state = fold(
        [
            sub_event("created", T0),
            invoice_event("invoice.payment_failed", failed_at),
            sub_event("updated", failed_at, status="past_due"),
            invoice_event("invoice.payment_failed", failed_at + 3 * DAY),  # retry fails too
        ]
    )
    assert state.past_due_since == failed_at
    state = fold([invoice_event("invoice.paid", failed_at + 4 * DAY)], state)
    assert (state.status, state.past_due_since) == ("active", None)
    assert effective_plan(state, failed_at + 20 * DAY) == ("pro", None)


def test_late_payment_failure_after_recovery_is_ignored():
    failed_at = T0 + 30 * DAY
    recovered = fold(
        [
            sub_event("created", T0),
            invoice_event("invoice.paid", failed_at + DAY),
            sub_event("updated", failed_at + DAY, status="active"),
        ]
    )
    late = fold([invoice_event("invoice.payment_failed", failed_at),
                 sub_event("updated", failed_at, status="past_due")], recovered)
    assert (late.status, late.past_due_since) == ("active", None)


def test_past_due_snapshot_without_invoice_event_starts_grace():
    state = fold([sub_event("created", T0), sub_event("updated", T0 + DAY, status="past_due")])
    assert state.past_due_since == T0 + DAY
    assert effective_plan(state, T0 + 2 * DAY)[0] == "pro"


@pytest.mark.parametrize("status", ["canceled", "unpaid", "incomplete_expired", "incomplete"])
def test_non_granting_statuses_are_free(status):
    state = fold([sub_event("updated", T0, status=status)])
    assert effective_plan(state, T0 + 1) == ("free", None)


def test_new_subscription_replaces_an_ended_one_and_old_events_are_ignored():
    old = fold([sub_event("created", T0), sub_event("deleted", T0 + 10, status="canceled")])
    new = fold([checkout_completed(T0 + 100, sub_id="sub_2"),
                sub_event("created", T0 + 100, sub_id="sub_2", price="price_team")], old)
    assert (new.stripe_subscription_id, new.plan, new.status) == ("sub_2", "team", "active")
    after = fold([sub_event("deleted", T0 + 10, status="canceled"), invoice_event("invoice.payment_failed", T0 + 200)],
                 new)
    assert after == new


def test_unknown_price_on_a_live_subscription_fails_loudly():
    with pytest.raises(UnknownPrice):
        fold([sub_event("created", T0, price="price_legacy")])


def test_period_end_falls_back_to_top_level_for_old_api_versions():
    sub = subscription()
    sub["items"]["data"][0].pop("current_period_end")
    sub["current_period_end"] = PERIOD_END + 5
    state = fold([event("customer.subscription.updated", sub, T0)])
    assert state.current_period_end == PERIOD_END + 5


def test_unhandled_event_types_change_nothing():
    state = fold([sub_event("created", T0)])
    assert apply_event(state, event("customer.created", {"id": "cus_9"}, T0 + 1), PRICES) == state
