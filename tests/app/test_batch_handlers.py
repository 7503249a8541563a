"""The three SQS handlers (Powertools batch processing): a malformed body is logged and dropped, never
retried; a failure is reported by its message id alone."""

from __future__ import annotations

import json

import pytest

ARN = "arn:aws:sqs:us-east-1:123456789012:costpilot-test-q"
MALFORMED = ("not json", "[]", json.dumps({"workspace_id": ""}), json.dumps({"connection_id": "c"}), "")


def _records(bodies):
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": "r", "body": b, "attributes": {},
                         "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": ARN,
                         "awsRegion": "us-east-1"} for i, b in enumerate(bodies)]}


@pytest.mark.parametrize("function", ["sync_worker", "alert_evaluator", "alert_delivery_worker"])
def test_malformed_messages_are_dropped_not_retried(api, function, caplog):
    payload = api.client.lambda_.invoke(function, _records(MALFORMED)).payload
    assert payload == {"batchItemFailures": []}
    assert sum("is malformed; dropped" in r.getMessage() for r in caplog.records) == len(MALFORMED)


def test_a_failed_sync_is_reported_by_its_message_id_alone(api, monkeypatch):
    from chalicelib.services import sync

    def sync_one(workspace_id, connection_id):
        if connection_id == "boom":
            raise RuntimeError("crash")
        return sync.SyncOutcome("failed" if connection_id == "down" else "synced")

    monkeypatch.setattr(sync, "sync_one", sync_one)
    bodies = [json.dumps({"workspace_id": "ws_a", "connection_id": c}) for c in ("ok", "boom", "down", "ok2")]
    payload = api.client.lambda_.invoke("sync_worker", _records([*bodies, "junk"])).payload
    assert payload == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_one_evaluation_per_workspace_in_a_batch(api, monkeypatch):
    from chalicelib.services import alert_eval

    calls = []
    monkeypatch.setattr(alert_eval, "evaluate_workspace", lambda w, recover=False: calls.append((w, recover)) or [])
    bodies = [json.dumps({"workspace_id": w, "source": s}) for w, s in
              (("ws_a", "push"), ("ws_b", "push"), ("ws_a", "sweep"), ("ws_a", "push"))]
    assert api.client.lambda_.invoke("alert_evaluator", _records(bodies)).payload == {"batchItemFailures": []}
    assert calls == [("ws_a", True), ("ws_b", False)]


def test_an_entire_batch_failing_is_reported_message_by_message(api, monkeypatch):
    from chalicelib.services import alert_eval

    def fail(w, recover=False):
        raise RuntimeError("throttled")

    monkeypatch.setattr(alert_eval, "evaluate_workspace", fail)
    bodies = [json.dumps({"workspace_id": w}) for w in ("ws_a", "ws_b", "ws_a")]
    payload = api.client.lambda_.invoke("alert_evaluator", _records(bodies)).payload
    assert payload == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(3)]}
