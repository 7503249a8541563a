"""A runaway loop caught within the hour: pushed events make the current hour ~12x its usual, the
spike alert fires in that evaluation on the hourly series, while the daily series alone (today's
partial day still under a usual day) would not have fired. Fixed clock: a Wednesday morning."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
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


def test_a_day_restated_upward_two_days_later_fires_then_once(api, user, receiver):
    """AWS restates its last days: the day before yesterday's bill grows from $30 to $300 today.
    That day's bill was still provisional, so its spike fires now, under that day's key, once;
    a day already final is not judged again."""
    from chalicelib.services import alert_eval
    from chalicelib.store import usage

    ws = user.workspace_id

    def bill(back: int, amount: Decimal) -> None:
        day = (NOW - timedelta(days=back)).replace(hour=0, minute=0)
        usage.replace_sync_day(ws, "conn_aws", day.date().isoformat(), [UsageRecord(
            ws, RecordKind.COST, "sync:conn_aws", "aws", day, day + timedelta(days=1), model="AWS Lambda",
            billed_cost=amount)])

    for back in range(40, -1, -1):
        bill(back, Decimal(28 + back % 5))
    spike_alert(api, user, receiver)
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []
    bill(2, Decimal(300))
    [key] = alert_eval.evaluate_workspace(ws, now=NOW)
    assert key.endswith(":d2026-11-23:spike")
    assert receiver.wait_for(1)[0].json["headline"].startswith("Unusual spend: All spend was $300.00 on Mon 23 Nov")
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []  # once
    bill(3, Decimal(300))  # final since yesterday: a restatement that late is not judged
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []


def a_working_day_shape(ws: str, start: datetime, hours: int, extra: float = 0.0) -> list[UsageRecord]:
    """$2 an hour from 08:00 to 19:59 UTC, $0.30 at night, weekends at night level; ``extra`` flat on top."""
    rng = random.Random(int(start.timestamp()) % 1000)
    out = []
    for h in range(hours):
        at = start + timedelta(hours=h)
        busy = 8 <= at.hour < 20 and at.weekday() < 5
        amount = (2.0 if busy else 0.3) * rng.uniform(0.9, 1.1) + extra
        out.append(event(ws, at + timedelta(minutes=rng.randrange(60)), amount))
    return out


def test_a_spike_that_a_day_later_reads_as_a_leaked_key_gets_one_follow_up(api, user, receiver):
    """A leaked key adds a flat $3 an hour from 02:00: at the alarm it reads as a runaway loop (the
    night is 11x its usual); a day of hours later the follow-up names it a leaked key, once."""
    from chalicelib.services import alert_eval
    from chalicelib.store import pushed_events

    ws = user.workspace_id
    onset = datetime(2026, 11, 25, 2, tzinfo=UTC)
    pushed_events.add_events(ws, a_working_day_shape(ws, onset - timedelta(days=35), 35 * 24))
    pushed_events.add_events(ws, a_working_day_shape(ws, onset, 1, extra=3.0))
    spike_alert(api, user, receiver)
    [key] = alert_eval.evaluate_workspace(ws, now=onset + timedelta(minutes=50))
    assert key.endswith("h2026-11-25T02:spike")
    [alarm] = receiver.wait_for(1)
    assert "Looks like a runaway loop" in " ".join(alarm.json["details"])

    pushed_events.add_events(ws, a_working_day_shape(ws, onset + timedelta(hours=1), 12, extra=3.0))
    assert alert_eval.evaluate_workspace(ws, now=onset + timedelta(hours=12, minutes=50)) == []  # not a day yet
    pushed_events.add_events(ws, a_working_day_shape(ws, onset + timedelta(hours=13), 12, extra=3.0))
    [update] = alert_eval.evaluate_workspace(ws, now=onset + timedelta(hours=24, minutes=50))
    assert update.endswith("h2026-11-25T02:kind")
    hook = receiver.wait_for(2)[1].json
    assert hook["headline"].startswith("Update on the unusual spend at 02:00 UTC on Wed 25 Nov (All spend): "
                                       "it looks like a leaked key, $")
    assert hook["details"][0].startswith("Looks like a leaked key: a flat extra amount round the clock")
    assert "rotate" in hook["details"][1]
    # the figures: what the 24 hours from the onset cost against their usual (12 busy hours, 12 quiet)
    assert Decimal(hook["figure"]) - Decimal(hook["threshold"]) > 24 * 3 * Decimal("0.8")
    assert Decimal(hook["threshold"]) < 12 * 2 * Decimal("1.2") + 12 * Decimal("0.4")
    assert alert_eval.evaluate_workspace(ws, now=onset + timedelta(hours=25, minutes=50)) == []  # once


def test_no_follow_up_for_a_spike_that_never_fired(api, user, receiver):
    """The alert created after the spike's hour: no alarm went out, so no "update on" one either."""
    from chalicelib.services import alert_eval
    from chalicelib.store import pushed_events

    ws = user.workspace_id
    onset = datetime(2026, 11, 25, 2, tzinfo=UTC)
    pushed_events.add_events(ws, a_working_day_shape(ws, onset - timedelta(days=35), 35 * 24))
    pushed_events.add_events(ws, a_working_day_shape(ws, onset, 25, extra=3.0))
    spike_alert(api, user, receiver)
    assert alert_eval.evaluate_workspace(ws, now=onset + timedelta(hours=24, minutes=50)) == []
    assert receiver.wait_for(0) == []


def a_side_project(ws: str) -> tuple[datetime, Callable[[datetime, int], None]]:
    """One request an hour at about 5 cents, five weeks through 07:59 today; returns 08:00 and
    ``loop_hour(hour, calls)``, which pushes ``calls`` 5-cent requests in that hour."""
    from chalicelib.store import pushed_events

    onset = HOUR.replace(hour=8)
    rng = random.Random(11)
    pushed_events.add_events(ws, [event(ws, onset - timedelta(hours=h, minutes=-rng.randrange(60)),
                                        rng.uniform(0.04, 0.06)) for h in range(1, 35 * 24 + 1)])

    def loop_hour(hour: datetime, calls: int) -> None:
        pushed_events.add_events(ws, [event(ws, hour + timedelta(minutes=4 * m), 0.05) for m in range(calls)])

    return onset, loop_hour


def test_pennies_are_not_news_but_a_small_loop_fires_once_its_excess_reaches_a_dollar(api, user, receiver):
    """From 08:00 a loop makes nine requests an hour: the engine sees a spike at once (9x), but 40
    cents above the usual is not worth an alert. The loop keeps on; in the third hour its excess
    passes $1 (the default ``min_excess``) and it fires, once, under 08:00's key."""
    from chalicelib.domain.alerts import DEFAULT_MIN_EXCESS
    from chalicelib.engines import spikes
    from chalicelib.services import alert_eval, alert_facts

    ws = user.workspace_id
    onset, loop_hour = a_side_project(ws)
    assert spike_alert(api, user, receiver)["min_excess"] == "1"
    loop_hour(onset, 9)
    first = onset + timedelta(minutes=40)
    hours, values = alert_facts.Spend(ws, first).hourly_history(first, Scope(), "USD")
    stamps = [np.datetime64(h.isoformat()[:13]) for h in hours]
    assert [s.index for s in spikes.detect(stamps, values)][-1:] == [len(hours) - 1]  # a spike: the floor holds it
    assert alert_eval.evaluate_workspace(ws, now=first) == []
    loop_hour(onset + timedelta(hours=1), 9)
    assert alert_eval.evaluate_workspace(ws, now=first + timedelta(hours=1)) == []  # about 80 cents so far
    loop_hour(onset + timedelta(hours=2), 8)
    [key] = alert_eval.evaluate_workspace(ws, now=first + timedelta(hours=2))
    assert key.endswith("h2026-11-25T08:spike")
    [hook] = receiver.wait_for(1)
    assert hook.json["headline"].startswith("Unusual spend: All spend was $0.45 in the hour from 08:00 UTC")
    [line] = [d for d in hook.json["details"] if "above the usual since 08:00 UTC" in d]
    assert Decimal(line.split()[0].lstrip("$")) >= DEFAULT_MIN_EXCESS
    loop_hour(onset + timedelta(hours=3), 9)
    assert alert_eval.evaluate_workspace(ws, now=first + timedelta(hours=3)) == []  # one episode, one alert


def test_a_spike_alert_set_to_any_excess_fires_on_the_first_hour(api, user, receiver):
    from chalicelib.services import alert_eval

    ws = user.workspace_id
    onset, loop_hour = a_side_project(ws)
    path = f"/api/workspaces/{ws}/alerts"
    for bad in (-1, "a dollar", 1e12):
        r = api.post(path, {"name": "Spikes", "kind": "spike", "min_excess": bad,
                            "channels": [{"type": "webhook", "url": receiver.url()}]}, token=user.token)
        assert (r.status, r.json["error"]["field"]) == (400, "min_excess"), r.body
    r = api.post(path, {"name": "Spikes", "kind": "spike", "min_excess": 0,
                        "channels": [{"type": "webhook", "url": receiver.url()}]}, token=user.token)
    assert (r.status, r.json["min_excess"]) == (201, "0"), r.body
    loop_hour(onset, 9)
    [key] = alert_eval.evaluate_workspace(ws, now=onset + timedelta(minutes=40))
    assert key.endswith("h2026-11-25T08:spike")
    [hook] = receiver.wait_for(1)
    assert not any("above the usual since" in d for d in hook.json["details"])  # it fired as it began


def pushed_and_billed(ws: str):
    """OpenAI pushed from code (five weeks, about $1 an hour) and synced: each past day's bill a few
    % off what its events cost. Returns ``bill(day, extra)``, which bills a day again."""
    from chalicelib.store import pushed_events, usage

    events = five_weeks_of_about_a_dollar_an_hour(ws)
    pushed_events.add_events(ws, events)
    pushed: dict = {}
    for e in events:
        pushed[e.bucket_start.date()] = pushed.get(e.bucket_start.date(), Decimal(0)) + e.billed_cost
    rng = random.Random(7)

    def bill(day, extra=Decimal(0)):
        start = datetime.combine(day, datetime.min.time(), UTC)
        amount = (pushed.get(day, Decimal(0)) * Decimal(str(round(rng.uniform(0.97, 1.03), 3))) + extra)
        usage.replace_sync_day(ws, "conn_openai", day.isoformat(), [UsageRecord(
            ws, RecordKind.COST, "sync:conn_openai", "openai", start, start + timedelta(days=1), model="gpt-4o",
            billed_cost=amount.quantize(Decimal("0.01")))])

    for day in sorted(pushed):
        if day < NOW.date():
            bill(day)
    return bill


def test_a_leaked_key_outside_the_pushed_usage_fires_on_the_bill_beyond_the_hours(api, user, receiver):
    """A key used elsewhere adds $90 to yesterday's OpenAI bill only: the hours (pushed events) never
    see it, so it fires on OpenAI's daily spend, once, saying how much of the rise is beyond them."""
    from chalicelib.services import alert_eval

    ws = user.workspace_id
    bill = pushed_and_billed(ws)
    spike_alert(api, user, receiver)
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []  # the bill a few % off the events: calm

    bill(NOW.date() - timedelta(days=1), extra=Decimal(90))
    [key] = alert_eval.evaluate_workspace(ws, now=NOW)
    assert key.endswith(":d2026-11-24-beyond-openai:spike")
    [hook] = receiver.wait_for(1)
    assert hook.json["headline"].startswith("Unusual spend: OpenAI spend was $")
    assert 110 < Decimal(hook.json["figure"]) < 120 and 20 < Decimal(hook.json["threshold"]) < 30  # ~$24 a day
    [beyond] = [line for line in hook.json["details"] if "not in the usage your code pushed" in line]
    assert 88 < Decimal(beyond.split()[0].lstrip("$")) < 92 and "leaked key used elsewhere" in beyond
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []  # once
    assert alert_eval.evaluate_workspace(ws, now=NOW + timedelta(hours=1)) == []


def test_a_loop_the_code_pushed_is_not_reported_again_as_spend_beyond_the_hours(api, user, receiver, monkeypatch):
    """Yesterday's loop was pushed from code ($90 in an hour, the hourly series' to catch as it ran)
    and billed: OpenAI's day spikes, but its bill beyond the hours does not, so nothing fires now."""
    from chalicelib.services import alert_eval, alert_facts, spike_rule
    from chalicelib.store import pushed_events

    ws = user.workspace_id
    bill = pushed_and_billed(ws)
    yesterday = NOW.date() - timedelta(days=1)
    loop_hour = datetime.combine(yesterday, datetime.min.time(), UTC) + timedelta(hours=14)
    pushed_events.add_events(ws, [event(ws, loop_hour + timedelta(minutes=m), 1.5) for m in range(60)])
    bill(yesterday, extra=Decimal(90))
    spike_alert(api, user, receiver)
    _, daily = alert_facts.Spend(ws, NOW).history(NOW.date(), Scope("provider", "openai"), "USD")
    assert daily[-2] > 100 > 30 > max(daily[-9:-2])  # OpenAI's day spiked
    assert alert_eval.evaluate_workspace(ws, now=NOW) == []
    with monkeypatch.context() as m:  # it is the part beyond the hours that keeps it quiet
        m.setattr(spike_rule, "_beyond_rise", lambda *_: 1.0)
        [key] = alert_eval.evaluate_workspace(ws, now=NOW)
        assert key.endswith(":d2026-11-24-beyond-openai:spike")
