"""A runaway loop caught within the hour: pushed events make the current hour ~12x its usual, the
spike alert fires in that evaluation on the hourly series, while the daily series alone (today's
partial day still under a usual day) would not have fired. Fixed clock: a Wednesday morning."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.alerts import Scope
from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack.receivers import Receiver
from tests.helpers import purge_queue

NOW = datetime(2026, 11, 25, 10, 40, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(autouse=True)
def clean_queues(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")
    yield
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)


def event(ws: str, at: datetime, amount: float, model: str = "gpt-4o") -> UsageRecord:
    return UsageRecord(ws, RecordKind.EVENT, "push:test", "openai", at, at + timedelta(seconds=1), model=model,
                       unit_type="tokens", units=Decimal(1000), billed_cost=Decimal(str(round(amount, 2))),
                       idempotency_id=uuid.uuid4().hex)


def five_weeks_of_about_a_dollar_an_hour(ws: str) -> list[UsageRecord]:
    """Pushed events, through 09:59 today."""
    rng = random.Random(4)
    return [event(ws, HOUR - timedelta(hours=h, minutes=-rng.randrange(60)), rng.uniform(0.8, 1.2))
            for h in range(1, 35 * 24 + 1)]


def spike_alert(api, user, receiver) -> dict:
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", {
        "name": "Spikes", "kind": "spike", "channels": [{"type": "webhook", "url": receiver.url()}]}, token=user.token)
    assert r.status == 201, r.body
    return r.json


def test_a_loop_in_the_current_hour_fires_on_the_hourly_series(api, user, receiver, monkeypatch):
    from chalicelib.services import alert_eval, alert_facts
    from chalicelib.store import pushed_events

    ws = user.workspace_id
    pushed_events.add_events(ws, five_weeks_of_about_a_dollar_an_hour(ws))
    # the loop: since 10:00, a call every minute, $12 in 40 minutes
    pushed_events.add_events(ws, [event(ws, HOUR + timedelta(minutes=m), 0.3, "gpt-4.1") for m in range(40)])
    spike_alert(api, user, receiver)
    # hourly data: for all spend and one provider, once hours of 7 past days have spend
    assert alert_facts.Spend(ws, NOW).hourly_history(NOW, Scope("model", "gpt-4o"), "USD") is None
    for back, judged in ((29, False), (28, True)):  # the first events: 10:xx, 35 days back
        then = NOW - timedelta(days=back)
        assert (alert_facts.Spend(ws, then).hourly_history(then, Scope("provider", "openai"), "USD")
                is not None) is judged
    _, daily = alert_facts.Spend(ws, NOW).history(NOW.date(), Scope(), "USD")
    assert daily[-1] < min(daily[-8:-1])  # today so far, the loop included: under any of the last 7 days
    with monkeypatch.context() as m:  # the daily series alone: nothing to report
        m.setattr(alert_facts.Spend, "hourly_history", lambda *_: None)
        assert alert_eval.evaluate_workspace(ws, now=NOW) == []

    [key] = alert_eval.evaluate_workspace(ws, now=NOW)
    assert "h2026-11-25T10" in key
    [hook] = receiver.wait_for(1)
    assert hook.json["headline"].startswith(
        "Unusual spend: All spend was $12.00 in the hour from 10:00 UTC on Wed 25 Nov (usually about $")
    assert Decimal(hook.json["threshold"]) < 2 and hook.json["figure"] == "12"
    assert hook.json["contributors"]["model"][0]["name"] == "gpt-4.1"
    assert hook.json["contributors"]["provider"][0]["name"] == "OpenAI"
    kinds = ("runaway loop", "leaked key", "recurring job", "new baseline")
    assert any(line.startswith(tuple(f"Looks like a {k}" for k in kinds)) for line in hook.json["details"])
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []  # the same hour never fires twice
    assert alert_eval.evaluate_workspace(ws, now=NOW + timedelta(minutes=15)) == []


def test_all_spend_judged_hourly_still_judges_a_provider_billed_daily(api, user, receiver):
    """AWS is billed per day (synced, no hourly data): its spike today fires on its daily series,
    named as AWS spend, beside the hourly series of the pushed events (calm: nothing from them)."""
    from chalicelib.services import alert_eval
    from chalicelib.store import pushed_events, usage

    ws = user.workspace_id
    pushed_events.add_events(ws, five_weeks_of_about_a_dollar_an_hour(ws))
    for back in range(40, -1, -1):
        day = (NOW - timedelta(days=back)).replace(hour=0, minute=0)
        amount = Decimal(300) if back == 0 else Decimal(28 + back % 5)
        usage.replace_sync_day(ws, "conn_aws", day.date().isoformat(), [UsageRecord(
            ws, RecordKind.COST, "sync:conn_aws", "aws", day, day + timedelta(days=1), model="AWS Lambda",
            billed_cost=amount)])
    spike_alert(api, user, receiver)
    [key] = alert_eval.evaluate_workspace(ws, now=NOW)
    assert "d2026-11-25" in key
    [hook] = receiver.wait_for(1)
    assert hook.json["headline"].startswith("Unusual spend: AWS spend was $300.00 on Wed 25 Nov")
    assert hook.json["contributors"]["model"][0]["name"] == "AWS Lambda"
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []
