"""Provisional spend through the app (HTTP routes, moto DynamoDB, the evaluator): a partial bill
below pushed events does not lower spend, every figure says final or provisional, and a threshold
alert on a billed provider fires from pushed events once, and not again when a lower bill lands.

Days are placed relative to the clock so their state never depends on the time of day: OpenAI's
bill for a day is final two days after the day ends, so today and yesterday are always
provisional and three days ago is always final."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack import outbox
from tests.helpers import deliver_queue, purge_queue

NOW = datetime.min.replace(tzinfo=UTC)  # placeholders: set when each test starts
TODAY = OLD = NOW.date()


@pytest.fixture(autouse=True)
def _clock_at_test_start():
    """The app runs on the real clock: take "now" when each test starts, not at collection, so a run
    that crosses UTC midnight between collecting and running still pushes to the app's today."""
    global NOW, TODAY, OLD
    NOW = datetime.now(UTC)
    TODAY = NOW.date()
    OLD = TODAY - timedelta(days=3)


@pytest.fixture(autouse=True)
def clean_queues(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)


def _midnight(day):
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def bill(ws: str, day, amount: str, model="gpt-4o-mini-2024-07-18") -> None:
    """What a sync stores for the day: the provider's cost bucket (replacing the previous one)."""
    from chalicelib.services import alert_queue
    from chalicelib.store import usage

    start = _midnight(day)
    record = UsageRecord(ws, RecordKind.COST, "sync:conn_test", "openai", start, start + timedelta(days=1),
                         model=model, line_item=f"{model}, input", billed_cost=Decimal(amount))
    if usage.replace_sync_day(ws, "conn_test", day.isoformat(), [record]):
        alert_queue.usage_changed(ws, "sync:conn_test")


def push(ws: str, day, cost: str, *, estimated: bool = True, model="gpt-4o-mini", feature="search") -> None:
    from chalicelib.services import alert_queue
    from chalicelib.store import pushed_events

    at = min(_midnight(day) + timedelta(hours=1), datetime.now(UTC) - timedelta(seconds=5))
    amount = Decimal(cost)
    record = UsageRecord(ws, RecordKind.EVENT, "push:test", "openai", at, at + timedelta(seconds=1), model=model,
                         unit_type="tokens", units=Decimal(1000), feature=feature,
                         billed_cost=None if estimated else amount, estimated_cost=amount if estimated else None,
                         idempotency_id=uuid.uuid4().hex)
    pushed_events.add_events(ws, [record])
    alert_queue.usage_changed(ws, "push:test")


def usage_of(api, user, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?{q}", token=user.token)
    assert r.status == 200, r.body
    return r


def test_partial_bill_below_events_is_provisional_and_a_final_bill_is_the_spend(api, user):
    ws = user.workspace_id
    for day in (OLD, TODAY):
        bill(ws, day, "5.69")
        push(ws, day, "12.92")
    body = usage_of(api, user, **{"from": OLD, "to": TODAY, "group_by": "provider"}).json
    days = {p["period"]: p for p in body["series"]}
    assert (days[str(TODAY)]["spend"], days[str(TODAY)]["billed"], days[str(TODAY)]["state"]) == (
        "12.92", "5.69", "provisional")
    assert (days[str(OLD)]["spend"], days[str(OLD)]["state"]) == ("5.69", "final")
    [total] = body["totals"]
    assert (total["spend"], total["provisional_spend"], total["state"]) == ("18.61", "12.92", "provisional")
    assert [p["day"] for p in body["provisional"]] == [str(TODAY)]
    [over] = body["over_attributed"]  # the final day only
    assert over["period"] == str(OLD) and over["remainder"] == "-7.23"
    assert over["likely_causes"][0]["code"] == "catalogue_prices_above_bill"

    # the same at other grains and granularities (provider-only and month items are read
    # differently): totals agree
    for params in ({"group_by": "model"}, {"group_by": "feature"}, {"granularity": "month"},
                   {"granularity": "week", "group_by": "provider,model"}):
        other = usage_of(api, user, **{"from": OLD, "to": TODAY, **params}).json["totals"][0]
        assert (other["spend"], other["provisional_spend"]) == ("18.61", "12.92"), params

    text = usage_of(api, user, **{"from": OLD, "to": TODAY, "format": "csv"}).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["period"], r["spend"], r["state"], r["provisional_spend"]) for r in table] == [
        (str(OLD), "5.69", "final", "0"), (str(TODAY), "12.92", "provisional", "12.92")]


def test_openapi_documents_the_state_of_usage_figures(api):
    doc = api.get("/api/openapi.json").json
    schema = doc["paths"]["/api/workspaces/{workspace_id}/usage"]["get"]["responses"]["200"]
    ref = schema["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    components = doc["components"]["schemas"]
    point = components[components[ref]["properties"]["series"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert point["properties"]["state"]["enum"] == ["final", "provisional"]
    assert "provisional_spend" in point["properties"]


def test_threshold_on_a_billed_provider_fires_from_events_once_and_not_again_on_a_lower_bill(api, user):
    from chalicelib.services import alert_eval

    ws = user.workspace_id
    bill(ws, TODAY, "5.69")  # the connection's partial bill for today
    r = api.post(f"/api/workspaces/{ws}/alerts", {
        "name": "OpenAI today", "kind": "threshold", "amount": 10, "period": {"kind": "daily"},
        "scope": {"dimension": "provider", "value": "openai"}, "channels": [{"type": "email"}]}, token=user.token)
    assert r.status == 201, r.body
    deliver_queue(api.client, "alert_evaluator", "alerts")
    push(ws, TODAY, "12.92", estimated=False)  # a runaway reported by the team's code
    deliver_queue(api.client, "alert_evaluator", "alerts")
    deliver_queue(api.client, "alert_delivery_worker", "alert-deliveries")
    [mail] = outbox.messages(to=user.email)
    assert "$12.92" in mail["subject"]

    bill(ws, TODAY, "7.10")  # the next sync: a larger partial bill, still below the events
    deliver_queue(api.client, "alert_evaluator", "alerts")
    assert alert_eval.evaluate_workspace(ws) == []
    assert usage_of(api, user, **{"from": TODAY, "to": TODAY}).json["totals"][0]["spend"] == "12.92"
    history = api.get(f"/api/workspaces/{ws}/alerts/history", token=user.token).json["firings"]
    assert len(history) == 1 and history[0]["figure"] == "12.92"
    assert len(outbox.messages(to=user.email)) == 1

    # once the day is final the bill (7.10) is the spend: nothing fires, the firing keeps its figure
    final = _midnight(TODAY) + timedelta(days=3)
    assert alert_eval.evaluate_workspace(ws, now=final) == []
    history = api.get(f"/api/workspaces/{ws}/alerts/history", token=user.token).json["firings"]
    assert len(history) == 1 and history[0]["figure"] == "12.92"
