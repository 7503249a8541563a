"""The budget circuit breaker over HTTP: an ingest key reads ok / warn / over for a scope, the
state flips within one evaluation of the push that crosses the budget (the evaluation run as the
alerts queue runs it), each call is one DynamoDB request once the key's workspace is known, and
bad scopes or keys are refused without a 500."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.helpers import deliver_queue, purge_queue

AT = datetime.min.replace(tzinfo=UTC)  # set per test by _moment (never at import)


@pytest.fixture(autouse=True)
def _moment(aws, monkeypatch):
    now = datetime.now(UTC)  # a moment ago, never before today's UTC midnight (nor this month's start)
    monkeypatch.setitem(globals(), "AT", max(now - timedelta(seconds=5), now.replace(hour=0, minute=0, second=0,
                                                                                       microsecond=0)))
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")  # deliver_queue does not wait for delays
    purge_queue("alerts")


@pytest.fixture
def key(api, user):
    r = api.post(f"/api/workspaces/{user.workspace_id}/ingest-keys", {"name": "backend"}, token=user.token)
    assert r.status == 201, r.body
    return r.json["key"]


def budget(api, user, amount="10", scope=None, **extra):
    body = {"name": "Budget", "kind": "budget", "amount": amount, "period": {"kind": "monthly"},
            "channels": [{"type": "email"}], **({"scope": scope} if scope else {}), **extra}
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts", body, token=user.token)
    assert r.status == 201, r.body
    return r.json


def push(api, key, cost, provider="openai", **tags):
    event = {"id": uuid.uuid4().hex, "timestamp": AT.isoformat(), "provider": provider, "model": "gpt-4o-mini",
             "input_tokens": 1000, "output_tokens": 100, "cost": cost, **tags}
    r = api.call("POST", "/api/webhooks/provider-usage", body=json.dumps({"events": [event]}),
                 headers={"Authorization": f"Bearer {key}"})
    assert r.status == 200 and r.json["summary"]["accepted"] == 1, r.body


def evaluate(api):
    return deliver_queue(api.client, "alert_evaluator", "alerts")


def status(api, key, scope=None):
    path = "/api/budget-status" + (f"?scope={scope}" if scope else "")
    return api.call("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})


def test_the_state_flips_to_over_within_one_evaluation_of_the_crossing_push(api, user, key):
    alert = budget(api, user, "10.00", scope={"dimension": "provider", "value": "openai"}, levels=[50, 90, 100])
    evaluate(api)  # the new rule is evaluated at once: nothing spent yet
    r = status(api, key, "provider:openai")
    assert r.status == 200, r.body
    assert r.json["state"] == "ok" and r.json["spent"] == "0" and r.json["budget"] == "10"
    assert r.json["alert_id"] == alert["alert_id"] and r.json["period"] == "monthly"
    assert r.headers["cache-control"] == "private, max-age=5"
    month_start = AT.date().replace(day=1)
    assert r.json["period_start"] == month_start.isoformat()
    assert r.json["resets_at"] == f"{(month_start + timedelta(days=32)).replace(day=1).isoformat()}T00:00:00+00:00"

    push(api, key, "9.00")
    assert status(api, key, "provider:openai").json["state"] == "ok"  # not evaluated yet: the stored state
    evaluate(api)
    warned = status(api, key, "provider:openai").json
    assert (warned["state"], Decimal(warned["spent"]), Decimal(warned["warn_at"])) == ("warn", 9, 9)

    push(api, key, "1.00")
    evaluate(api)
    over = status(api, key, "provider:openai").json
    assert (over["state"], Decimal(over["spent"]), over["budget"], over["currency"]) == ("over", 10, "10", "USD")


def test_uncovered_scopes_are_ok_with_no_budget_and_workspace_budgets_cover_every_scope(api, user, key):
    budget(api, user, "5", scope={"dimension": "feature", "value": "search"})
    evaluate(api)
    r = status(api, key, "customer:acme")
    assert r.json == {"state": "ok", "spent": None, "budget": None, "warn_at": None, "currency": None,
                      "period": None, "period_start": None, "resets_at": None, "alert_id": None,
                      "scope": "customer:acme"}
    assert status(api, key).json["budget"] is None  # a feature budget does not limit all spend

    push(api, key, "6", feature="search")
    evaluate(api)
    assert status(api, key, "feature:search").json["state"] == "over"
    assert status(api, key, "feature:other").json["budget"] is None

    overall = budget(api, user, "100")
    evaluate(api)
    other = status(api, key, "feature:other").json
    assert (other["state"], other["alert_id"], Decimal(other["spent"])) == ("ok", overall["alert_id"], 6)
    tightest = status(api, key, "feature:search").json  # both cover it: the one over decides
    assert tightest["state"] == "over" and tightest["budget"] == "5"


def test_customer_budgets_are_evaluated_like_the_others(api, user, key):
    budget(api, user, "2", scope={"dimension": "customer", "value": "acme"})
    push(api, key, "1.85", customer="acme")  # 92.5 %: over the default levels' highest under 100 (90)
    push(api, key, "5", customer="globex")
    evaluate(api)
    r = status(api, key, "customer:acme").json
    assert (r["state"], Decimal(r["spent"])) == ("warn", Decimal("1.85"))


def test_each_call_is_one_dynamodb_request_once_the_key_is_known(api, user, key):
    from chalicelib import aws
    from chalicelib.store.base import BaseModel

    budget(api, user, "10")
    evaluate(api)
    seen: list[str] = []

    def count(**kwargs):
        seen.append(kwargs["event_name"])

    clients = [aws.client("dynamodb")]
    models, todo = [], list(BaseModel.__subclasses__())
    while todo:
        m = todo.pop()
        models.append(m)
        todo += m.__subclasses__()
    clients += [m._get_connection().connection.client for m in models]
    for c in {id(c): c for c in clients}.values():
        c.meta.events.register("before-send.dynamodb", count)
    try:
        assert status(api, key).status == 200
        assert len(seen) == 2  # first call of this container for this key: the key, then key + status
        seen.clear()
        for _ in range(3):
            assert status(api, key, "provider:openai").json["state"] == "ok"
        assert seen == ["before-send.dynamodb.BatchGetItem"] * 3
    finally:
        for c in {id(c): c for c in clients}.values():
            c.meta.events.unregister("before-send.dynamodb", count)


@pytest.mark.parametrize("scope", ["provider", "region:eu", "provider:", "provider:%01x", "x" * 300])
def test_bad_scopes_are_400_naming_the_field(api, key, scope):
    r = status(api, key, scope)
    assert r.status == 400, r.body
    assert r.json["error"]["field"] == "scope"


def test_missing_unknown_and_revoked_keys_are_401(api, user, key):
    assert status(api, None).status == 401
    assert status(api, "cpk_live_" + "A" * 43).status == 401
    assert status(api, key[:-4] + "AAAA").status == 401  # right prefix, wrong key
    assert status(api, key).status == 200
    key_id = key[:16]
    r = api.delete(f"/api/workspaces/{user.workspace_id}/ingest-keys/{key_id}", token=user.token)
    assert r.status == 200
    revoked = status(api, key)
    assert revoked.status == 401 and "revoked" in revoked.json["error"]["message"]
    assert revoked.headers["cache-control"] == "no-store"
    token = status(api, user.token)  # a session token is not an ingest key
    assert token.status == 401


def test_the_readme_guard_stops_calling_openai_once_the_sdk_reads_over(api, user, key):
    """The README's guard, with the SDK reading the real endpoint and the official client on a fake."""
    import costpilot
    import httpx2
    import openai

    from tests.sdk.fakes import ChaliceTransport
    from tests.sdk.provider_fakes import PROMPT, ProviderFake

    budget(api, user, "1.00", scope={"dimension": "provider", "value": "openai"})
    evaluate(api)
    clock = [0.0]
    cp = costpilot.Client(key, "http://costpilot.local", flush_interval=3600, transport=ChaliceTransport(api.client),
                          clock=lambda: clock[0])
    provider = ProviderFake()
    client = openai.OpenAI(api_key="sk-test", base_url="http://openai.test/v1",
                           http_client=httpx2.Client(transport=provider.transport()))

    class BudgetExceeded(RuntimeError):
        pass

    def ask(prompt: str):  # the README's guard
        status = cp.budget_status(scope="provider:openai")
        if status.state == "over":
            raise BudgetExceeded(f"OpenAI budget spent ({status.spent} of {status.budget}) until {status.resets_at}")
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    ask(PROMPT)
    push(api, key, "1.50")
    evaluate(api)
    assert ask(PROMPT) is not None  # the SDK's 5-second cache still says ok
    clock[0] += 5
    with pytest.raises(BudgetExceeded, match="until"):
        ask(PROMPT)
    assert len(provider.requests) == 2
    cp.close()
