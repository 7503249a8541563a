"""Hostile input over HTTP: calendar-edge times, deep JSON, oversized and future-signed webhooks.
Each answers a 4xx in the error shape, changes nothing, and leaves no traceback in the log."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime

import pytest

from devstack.fakes.stripe_api import sign

EDGES = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00")


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.fixture
def key(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "backend"}, token=user.token)
    assert r.status == 201, r.body
    return r.json


def _event(event_id: str, timestamp: str) -> dict:
    return {"id": event_id, "timestamp": timestamp, "provider": "openai", "model": "gpt-4o-mini",
            "input_tokens": 10, "output_tokens": 5, "cost": "0.25"}


def test_calendar_edge_timestamps_are_rejected_per_event_and_the_good_ones_stored(api, user, key, no_tracebacks):
    at = datetime.now(UTC).replace(microsecond=0)
    events = [_event("good-1", at.isoformat()), *(_event(f"edge-{i}", t) for i, t in enumerate(EDGES)),
              _event("good-2", at.isoformat())]
    r = api.call("POST", "/api/webhooks/provider-usage", body=json.dumps({"events": events}),
                 headers={"Authorization": f"Bearer {key['key']}"})
    assert r.status == 200, r.body
    assert r.json["summary"] == {"accepted": 2, "duplicate": 0, "rejected": 2}
    for outcome in r.json["events"][1:3]:
        assert outcome["status"] == "rejected" and outcome["field"] == "timestamp"
        assert "400 days ago to 1 day ahead" in outcome["reason"], outcome
    day = at.date().isoformat()
    spent = api.get(f"/api/workspaces/{user.workspace_id}/usage?from={day}&to={day}", token=user.token)
    assert spent.json["totals"][0]["spend"] == "0.5"


@pytest.mark.parametrize("query", [
    "to=9999-12-31", "from=9999-12-25", "from=9999-12-25&to=9999-12-31",
    "from=9999-12-01&to=9999-12-31&granularity=month",
    "from=9999-12-27&to=9999-12-31&granularity=week", "to=0001-01-01", "from=0001-01-01&to=0001-01-05",
    "to=0001-01-10",
])
def test_usage_queries_at_the_calendar_edges_answer_400(api, user, query, no_tracebacks):
    r = api.get(f"/api/workspaces/{user.workspace_id}/usage?{query}", token=user.token)
    assert r.status == 400, (query, r.body)
    assert r.json["error"]["field"] in ("from", "to")


def _deep(depth: int) -> str:
    return '{"email": ' + "[" * depth + "]" * depth + "}"


def _json_body_routes(app):
    from chalicelib.api.http import ROUTES

    return [(route.method, route.path) for route in ROUTES if route.body is not None]


def test_deeply_nested_json_is_a_400_on_every_json_body_route(api, app, user, no_tracebacks):
    routes = _json_body_routes(app)
    assert ("POST", "/api/auth/login") in routes and len(routes) >= 8
    body = _deep(10_000)
    for method, path in routes:
        concrete = re.sub(r"{workspace_id}", user.workspace_id, path)
        concrete = re.sub(r"{\w+}", "missing_0123456789", concrete)
        r = api.call(method, concrete, body=body, token=user.token)
        assert r.status == 400, (method, path, r.status, r.body)
        assert r.json["error"]["code"] == "validation_error" and r.json["error"]["field"] == "body"


def test_deeply_nested_pushed_usage_and_webhooks_are_refused(api, key, no_tracebacks):
    r = api.call("POST", "/api/webhooks/provider-usage", body=_deep(10_000),
                 headers={"Authorization": f"Bearer {key['key']}"})
    assert r.status == 400 and r.json["error"]["field"] == "body"
    secret = os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"]
    deep = "[" * 10_000 + "]" * 10_000
    r = api.call("POST", "/api/stripe/webhook", body=deep, headers={"Stripe-Signature": sign(deep, secret)})
    assert 400 <= r.status < 500, r.body


def test_webhook_bodies_over_the_limit_answer_413(api, key, no_tracebacks):
    big = json.dumps({"events": [], "pad": "x" * 1_100_000})
    secret = os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"]
    r = api.call("POST", "/api/stripe/webhook", body=big, headers={"Stripe-Signature": sign(big, secret)})
    assert (r.status, r.json["error"]["code"]) == (413, "payload_too_large")
    r = api.call("POST", "/api/webhooks/provider-usage", body=big, headers={"Authorization": f"Bearer {key['key']}"})
    assert r.status == 413
    r = api.call("POST", "/api/webhooks/provider-usage", body=big)  # before any authentication
    assert r.status == 413


def test_a_stripe_signature_dated_in_the_future_is_refused(api, no_tracebacks):
    secret = os.environ["COSTPILOT_SECRET_STRIPE_WEBHOOK_SECRET"]
    event = json.dumps({"id": "evt_future_1", "object": "event", "type": "invoice.paid", "created": 1,
                        "data": {"object": {}}})
    r = api.call("POST", "/api/stripe/webhook", body=event,
                 headers={"Stripe-Signature": sign(event, secret, int(time.time()) + 3600)})
    assert 400 <= r.status < 500 and r.json["error"]["code"], r.body
