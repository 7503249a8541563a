"""Alerts end to end through the app's real handlers (chalice test client, moto): usage pushed,
the evaluation message delivered to the evaluator, emails read back from the emulated SES and
webhooks from local receivers. Exactly once under redelivery, concurrency and crashes."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.alert_channels import verify
from chalicelib.domain.usage import RecordKind, UsageRecord
from devstack import outbox
from devstack.receivers import Receiver
from tests.helpers import deliver_queue, purge_queue

EVALUATOR = "alert_evaluator"
RETRIER = "alert_delivery_worker"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture(autouse=True)
def clean_queues(aws, monkeypatch):
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")  # deliver_queue does not wait for delays
    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")  # as the local stack: receivers on 127.0.0.1
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)
    yield


def push(ws: str, amount: str, *, provider="openai", model="gpt-4o", project=None, at=None, notify=True):
    from chalicelib.services import alert_queue
    from chalicelib.store import pushed_events

    if at is None:  # a moment ago, but never before today's UTC midnight (nor last week on a Monday)
        now = datetime.now(UTC)
        at = max(now - timedelta(seconds=5), now.replace(hour=0, minute=0, second=0, microsecond=0))
    record = UsageRecord(ws, RecordKind.EVENT, "push:test", provider, at, at + timedelta(seconds=1), model=model,
                         unit_type="tokens", units=Decimal(1000), billed_cost=Decimal(amount), project=project,
                         idempotency_id=uuid.uuid4().hex)
    pushed_events.add_events(ws, [record])
    if notify:
        alert_queue.usage_changed(ws, "push:test")


def emails_to(address: str) -> list[dict]:
    return outbox.messages(to=address)


def create(api, user, **spec):
    body = {"name": "OpenAI this week", "kind": "threshold", "amount": 50, "period": {"kind": "weekly"},
            "scope": {"dimension": "provider", "value": "openai"}, "channels": [{"type": "email"}], **spec}
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", body, token=user.token)
    assert r.status == 201, r.body
    return r.json


def history(api, user, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = api.get(f"/api/workspaces/{user.workspace_id}/alerts/history" + (f"?{q}" if q else ""), token=user.token)
    assert r.status == 200, r.body
    return r.json["firings"]


def evaluate(api):
    return deliver_queue(api.client, EVALUATOR, "alerts")


def test_openai_weekly_threshold_sends_one_email_and_one_webhook(api, user, receiver):
    alert = create(api, user, channels=[{"type": "email"}, {"type": "webhook", "url": receiver.url("/costpilot")}])
    secret = next(c["signing_secret"] for c in alert["channels"] if c["type"] == "webhook")
    evaluate(api)  # the creation's evaluation: nothing spent yet
    push(user.workspace_id, "30.00")
    evaluate(api)
    assert emails_to(user.email) == [] and receiver.requests == []
    push(user.workspace_id, "25.50", model="gpt-4o-mini")
    evaluate(api)

    [mail] = emails_to(user.email)
    assert "OpenAI spend is $55.50 this week, over your $50.00 threshold" in mail["subject"]
    for part in (mail["text"], mail["html"]):
        assert "$55.50" in part and "$50.00" in part and "this week" in part and "gpt-4o" in part
        assert f"/alerts/{alert['alert_id']}" in part
    assert "Top contributors" in mail["text"] and "gpt-4o-mini" in mail["text"]
    [hook] = receiver.wait_for(1)
    assert verify(secret, hook.headers["costpilot-signature"], hook.body, int(hook.at))
    assert hook.json["figure"] == "55.5" and hook.json["threshold"] == "50" and hook.json["type"] == "alert.fired"

    # More usage, more evaluations, redelivered messages: nothing more is sent.
    push(user.workspace_id, "10")
    evaluate(api)
    from chalicelib.services import alert_eval

    alert_eval.evaluate_workspace(user.workspace_id)
    assert len(emails_to(user.email)) == 1 and len(receiver.requests) == 1
    [firing] = history(api, user)
    assert firing["alert_id"] == alert["alert_id"] and firing["figure"] == "55.5"
    assert sorted(d["status"] for d in firing["deliveries"]) == ["sent", "sent"]


def test_redelivered_message_and_concurrent_evaluators_notify_once(api, user, receiver):
    from chalicelib.services import alert_eval

    create(api, user, amount=5, channels=[{"type": "webhook", "url": receiver.url()}])
    push(user.workspace_id, "6", notify=False)
    record = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps({"workspace_id": user.workspace_id}),
              "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:costpilot-test-alerts", "awsRegion": "us-east-1"}
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: alert_eval.evaluate_workspace(user.workspace_id), range(4)))
    for _ in range(2):  # the same message delivered twice
        assert api.client.lambda_.invoke(EVALUATOR, {"Records": [record]}).payload == {"batchItemFailures": []}
    assert len(receiver.wait_for(1, timeout=1)) == 1
    assert len(history(api, user)) == 1


def test_budget_levels_crossed_at_once_make_one_notification_each_level_once(api, user, receiver):
    create(api, user, kind="budget", name="Monthly budget", amount=100, period={"kind": "monthly"}, scope=None,
           channels=[{"type": "webhook", "url": receiver.url()}])
    push(user.workspace_id, "85")  # 50 and 80 at once
    evaluate(api)
    push(user.workspace_id, "1")  # still 86%: nothing new
    evaluate(api)
    push(user.workspace_id, "20")  # 106%: 90 and 100 at once
    evaluate(api)
    got = receiver.wait_for(2)
    assert [(r.json["level"], r.json["levels"]) for r in got] == [("80", ["50", "80"]),
                                                                  ("100", ["50", "80", "90", "100"])]
    assert "reached 106.0% of your $100.00 budget" in got[1].json["headline"]
    assert [f["level"] for f in history(api, user)] == ["100", "80"]


def test_slack_and_discord_payloads(api, user, receiver):
    create(api, user, amount=1, channels=[{"type": "slack", "url": receiver.url("/slack/T0/B0/xyz")},
                                          {"type": "discord", "url": receiver.url("/discord/api/webhooks/1/abc")}])
    push(user.workspace_id, "2")
    evaluate(api)
    got = {r.path.split("/")[1]: r.json for r in receiver.wait_for(2)}
    assert got["slack"]["text"].startswith("[CostPilot] OpenAI spend is $2.00 this week")
    assert any("Top contributors" in b.get("text", {}).get("text", "") for b in got["slack"]["blocks"])
    embed = got["discord"]["embeds"][0]
    assert embed["title"] == "OpenAI this week" and got["discord"]["allowed_mentions"] == {"parse": []}
    assert {"name": "Threshold", "value": "$1.00", "inline": True} in embed["fields"]


def test_failing_channel_is_retried_with_backoff_then_dead_lettered(api, user, receiver):
    import boto3

    receiver.status = 503
    create(api, user, amount=1, channels=[{"type": "webhook", "url": receiver.url()}, {"type": "email"}])
    push(user.workspace_id, "2")
    evaluate(api)
    assert len(emails_to(user.email)) == 1  # the healthy channel is not held back
    [firing] = history(api, user)
    webhook = next(d for d in firing["deliveries"] if d["type"] == "webhook")
    assert webhook["status"] == "failed" and webhook["last_error"] == "127.0.0.1 answered HTTP 503"

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="costpilot-test-alert-deliveries")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert int(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"]) >= 1  # backoff: DelaySeconds

    record = {"messageId": "d1", "receiptHandle": "r",
              "body": json.dumps({"workspace_id": user.workspace_id, "firing_key": firing["firing_id"]}),
              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:x",
              "awsRegion": "us-east-1"}
    for receive in range(1, 6):
        payload = api.client.lambda_.invoke(RETRIER, {"Records": [{**record, "attributes": {
            "ApproximateReceiveCount": str(receive)}}]}).payload
        assert payload == {"batchItemFailures": [{"itemIdentifier": "d1"}]}, receive  # kept, then the DLQ
    [firing] = history(api, user)
    webhook = next(d for d in firing["deliveries"] if d["type"] == "webhook")
    assert webhook["status"] == "dead" and webhook["attempts"] == 6
    assert len(receiver.requests) == 6 and len(emails_to(user.email)) == 1


def test_failed_delivery_recovers_on_retry(api, user, receiver):
    receiver.fail_next = 1
    create(api, user, amount=1, channels=[{"type": "webhook", "url": receiver.url()}])
    push(user.workspace_id, "2")
    evaluate(api)
    assert len(receiver.accepted()) == 0
    from chalicelib.services import alert_delivery

    [firing] = history(api, user)
    assert alert_delivery.deliver(user.workspace_id, firing["firing_id"], include_failed=True).sent
    assert len(receiver.wait_for(1)) == 1
    # the queued retry finds nothing left to do, and nothing is sent twice
    assert alert_delivery.deliver(user.workspace_id, firing["firing_id"], include_failed=True).sent == []
    assert len(receiver.accepted()) == 1


def test_crash_between_record_and_send_is_delivered_once_later(api, user, receiver, monkeypatch):
    from chalicelib.services import alert_delivery, alert_eval

    create(api, user, amount=1, channels=[{"type": "webhook", "url": receiver.url()}])
    push(user.workspace_id, "2", notify=False)

    def crash(*a, **k):
        raise RuntimeError("lambda died")

    monkeypatch.setattr(alert_delivery, "deliver_now_or_later", crash)
    with pytest.raises(RuntimeError):
        alert_eval.evaluate_workspace(user.workspace_id)
    monkeypatch.undo()  # undoes the fixture's settings too: the local receiver needs its opt-out back
    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")
    assert receiver.requests == []
    [firing] = history(api, user)
    assert [d["status"] for d in firing["deliveries"]] == ["pending"]
    alert_eval.evaluate_workspace(user.workspace_id)  # the message's redelivery
    alert_eval.evaluate_workspace(user.workspace_id, recover=True)  # and the sweep
    assert len(receiver.wait_for(1)) == 1 and len(receiver.requests) == 1


def test_lapsed_lease_is_taken_over_but_a_live_one_is_not(api, user, receiver):
    from chalicelib.services import alert_delivery, alert_eval
    from chalicelib.store.alerts import Delivery, firing_id

    create(api, user, amount=1, channels=[{"type": "webhook", "url": receiver.url()}])
    push(user.workspace_id, "2", notify=False)
    orig = alert_delivery.deliver_now_or_later
    alert_delivery.deliver_now_or_later = lambda *a, **k: None
    try:
        [key] = alert_eval.evaluate_workspace(user.workspace_id)
    finally:
        alert_delivery.deliver_now_or_later = orig
    [d] = Delivery.query(firing_id(user.workspace_id, key))
    d.update(actions=[Delivery.status.set("sending"),
                      Delivery.claim_until.set(int(datetime.now(UTC).timestamp()) + 60)])
    assert alert_delivery.deliver(user.workspace_id, key).busy == [d.channel_id]  # someone is sending
    d.update(actions=[Delivery.claim_until.set(1)])  # ...and crashed: the lease lapsed
    assert alert_delivery.deliver(user.workspace_id, key).sent == [d.channel_id]
    assert len(receiver.wait_for(1)) == 1


def test_bursts_coalesce_into_one_evaluation(api, user):
    from chalicelib.services import alert_queue

    create(api, user, amount=1000)
    evaluate(api)  # the creation's own evaluation
    sent = [alert_queue.request_evaluation(user.workspace_id, "push") for _ in range(20)]
    assert sent.count(True) == 1
    payloads = deliver_queue(api.client, EVALUATOR, "alerts")
    assert payloads == [{"batchItemFailures": []}]
    assert alert_queue.request_evaluation(user.workspace_id, "push") is True  # evaluated: the next one queues


def test_workspaces_without_rules_enqueue_nothing(api, user):
    import boto3

    push(user.workspace_id, "5")
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="costpilot-test-alerts")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_period_rollover_caught_by_the_sweep(api, user, receiver):
    from chalicelib.services import alert_eval

    create(api, user, kind="threshold", amount=3, period={"kind": "daily"},
           channels=[{"type": "webhook", "url": receiver.url()}])
    now = datetime.now(UTC)
    push(user.workspace_id, "4", at=now - timedelta(days=1), notify=False)
    push(user.workspace_id, "4", notify=False)
    # yesterday's breach, evaluated yesterday; today's is its own period (a new key)
    assert len(alert_eval.evaluate_workspace(user.workspace_id, now - timedelta(days=1))) == 1
    purge_queue("alerts")
    from devstack.runner import _schedule_event

    result = api.client.lambda_.invoke("alert_sweep", _schedule_event("alert_sweep")).payload
    assert result["evaluations"] >= 1
    evaluate(api)
    got = receiver.wait_for(2)
    assert [r.json["period_label"].split(" (")[0] for r in got] == ["today", "today"]
    assert len({r.json["key"] for r in got}) == 2


def test_forecast_overrun(api, user, receiver):
    from chalicelib.services import alert_eval

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(1, 29):
        push(user.workspace_id, "10", at=today - timedelta(days=back) + timedelta(hours=12), notify=False)
    create(api, user, kind="forecast", name="Month forecast", amount=50, period={"kind": "monthly"}, scope=None,
           probability=0.5, channels=[{"type": "webhook", "url": receiver.url()}])
    fired = alert_eval.evaluate_workspace(user.workspace_id)
    assert len(fired) == 1
    [hook] = receiver.wait_for(1)
    assert "on course to end the month" in hook.json["headline"] and hook.json["forecast"]["probability_over"] >= 0.5
    assert alert_eval.evaluate_workspace(user.workspace_id) == []


def test_spike(api, user, receiver):
    from chalicelib.services import alert_eval

    now = datetime.now(UTC)
    for back in range(1, 36):
        push(user.workspace_id, "2", at=now - timedelta(days=back), notify=False)
    push(user.workspace_id, "40", model="gpt-4.1", at=now - timedelta(minutes=1), notify=False)
    create(api, user, kind="spike", name="Spikes", scope=None, amount=None, period=None,
           channels=[{"type": "webhook", "url": receiver.url()}])
    assert len(alert_eval.evaluate_workspace(user.workspace_id)) == 1
    [hook] = receiver.wait_for(1)
    assert hook.json["headline"].startswith("Unusual spend: All spend was $40.00")
    assert hook.json["contributors"]["model"][0]["name"] == "gpt-4.1"
    kinds = ("runaway loop", "leaked key", "recurring job", "new baseline")
    assert any(line.startswith(tuple(f"Looks like a {k}" for k in kinds)) for line in hook.json["details"])
    assert alert_eval.evaluate_workspace(user.workspace_id) == []


def test_connection_failure(api, user, receiver):
    from chalicelib.services import alert_eval
    from chalicelib.store.connections import Connection

    c = Connection(user.workspace_id, "conn_" + uuid.uuid4().hex[:8], provider="anthropic", label="Prod",
                   credentials=b"x", status="active", last_error="anthropic unavailable: HTTP 503",
                   failing_since=datetime.now(UTC) - timedelta(minutes=90))
    c.save()
    create(api, user, kind="connection", name="Sync health", scope=None, amount=None, period=None,
           failing_minutes=60, channels=[{"type": "webhook", "url": receiver.url()}])
    assert len(alert_eval.evaluate_workspace(user.workspace_id)) == 1
    assert alert_eval.evaluate_workspace(user.workspace_id) == []
    [hook] = receiver.wait_for(1)
    assert "Anthropic connection 'Prod' has failed to sync since" in hook.json["headline"]
    assert "Last error: anthropic unavailable: HTTP 503" in hook.json["details"]


def test_send_a_test(api, user, receiver):
    alert = create(api, user, channels=[{"type": "email"}, {"type": "webhook", "url": receiver.url()}])
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts/{alert['alert_id']}/test", token=user.token)
    assert r.status == 200, r.body
    assert sorted(d["status"] for d in r.json["deliveries"]) == ["sent", "sent"]
    [mail] = emails_to(user.email)
    assert mail["subject"].startswith("[CostPilot test] OpenAI spend is $0.00 this week, under your $50.00")
    assert receiver.wait_for(1)[0].headers["costpilot-event"] == "alert.test"


def test_digest(api, user):
    from chalicelib import handlers

    r = api.call("PUT", f"/api/workspaces/{user.workspace_id}/digest", json_body={"frequency": "daily"},
                 token=user.token)
    assert r.status == 200 and r.json["frequency"] == "daily"
    now = datetime.now(UTC)
    push(user.workspace_id, "12.5", at=now - timedelta(days=1), notify=False)
    push(user.workspace_id, "10", at=now - timedelta(days=2), notify=False)
    handlers.alert_sweep({}, now)
    handlers.alert_sweep({}, now)
    [mail] = emails_to(user.email)
    assert "Your daily spend: $12.50 (+25% vs the previous day)" in mail["subject"]
    assert "Top movers" in mail["text"] and "Open alerts: 0" in mail["text"]
    api.call("PUT", f"/api/workspaces/{user.workspace_id}/digest", json_body={"frequency": "off"}, token=user.token)
    assert api.get(f"/api/workspaces/{user.workspace_id}/digest", token=user.token).json["frequency"] == "off"


def test_partial_batch_failures_are_reported(api, user, monkeypatch):
    from chalicelib.services import alert_eval

    other = api.new_user("other")
    real = alert_eval.evaluate_workspace

    def flaky(workspace_id, *a, **k):
        if workspace_id == other.workspace_id:
            raise RuntimeError("throttled")
        return real(workspace_id, *a, **k)

    monkeypatch.setattr(alert_eval, "evaluate_workspace", flaky)
    records = [{"messageId": mid, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1"}
               for mid, body in (("ok", json.dumps({"workspace_id": user.workspace_id})),
                                 ("bad", json.dumps({"workspace_id": other.workspace_id})),
                                 ("junk", "not json"))]
    payload = api.client.lambda_.invoke(EVALUATOR, {"Records": records}).payload
    assert payload == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
