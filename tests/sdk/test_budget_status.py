"""costpilot.budget_status: the answer parsed exactly, cached per scope for a few seconds (a fixed
clock), failing open with state "unknown" (or raising when asked), and the ingest key as bearer."""

from __future__ import annotations

from decimal import Decimal

import costpilot
import httpx
import pytest
from costpilot.client import Client

OVER = {"state": "over", "spent": "10.000001", "budget": "10", "warn_at": "9", "currency": "USD",
        "period": "monthly", "period_start": "2026-12-01", "resets_at": "2027-01-01T00:00:00+00:00",
        "alert_id": "al_1", "scope": "provider:openai"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server():
    calls: list[httpx.Request] = []
    answers: list[httpx.Response | Exception] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = answers.pop(0) if answers else httpx.Response(200, json=OVER)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return calls, answers, httpx.MockTransport(handle)


def client(transport, clock, key="cpk_live_test"):
    return Client(key, "http://costpilot.test", transport=transport, clock=clock, flush_interval=3600)


def test_the_answer_is_parsed_exactly_and_cached_per_scope(server):
    calls, _, transport = server
    clock = Clock()
    with client(transport, clock) as cp:
        status = cp.budget_status(scope="provider:openai")
        assert status.over and status.known and status.spent == Decimal("10.000001") and status.budget == 10
        assert (status.resets_at, status.period, status.alert_id) == ("2027-01-01T00:00:00+00:00", "monthly", "al_1")
        clock.now += 4.9
        assert cp.budget_status(scope="provider:openai") is status  # cached
        assert len(calls) == 1
        cp.budget_status(scope="feature:search")  # another scope: its own request
        clock.now += 0.2
        cp.budget_status(scope="provider:openai")  # 5 s passed: asked again
        cp.budget_status()
    assert [c.url.params.get("scope") for c in calls] == ["provider:openai", "feature:search", "provider:openai", None]
    assert all(c.url.path == "/api/budget-status" and c.headers["authorization"] == "Bearer cpk_live_test"
               for c in calls)


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                     httpx.Response(503, text="unavailable"),
                                     httpx.Response(401, json={"error": {"code": "unauthenticated",
                                                                         "message": "unknown ingest key"}}),
                                     httpx.Response(200, json={"state": "maybe"}),
                                     httpx.Response(200, text="<html>")])
def test_failures_fail_open_as_unknown_and_are_cached_too(server, failure):
    calls, answers, transport = server
    answers.append(failure)
    clock = Clock()
    with client(transport, clock) as cp:
        status = cp.budget_status(scope="provider:openai")
        assert status.state == "unknown" and not status.over and not status.known and status.error
        assert cp.budget_status(scope="provider:openai").state == "unknown"  # no second try within 5 s
        assert len(calls) == 1
        with pytest.raises(costpilot.BudgetStatusError):
            cp.budget_status(scope="provider:openai", raise_errors=True)
        clock.now += 5
        assert cp.budget_status(scope="provider:openai", raise_errors=True).over  # recovered
    if isinstance(failure, httpx.Response) and failure.status_code == 401:
        assert "unknown ingest key" in status.error


def test_without_an_ingest_key_nothing_is_sent_and_the_state_is_unknown(server, monkeypatch):
    calls, _, transport = server
    monkeypatch.delenv("COSTPILOT_INGEST_KEY", raising=False)
    with client(transport, Clock(), key="") as cp:
        assert cp.budget_status().state == "unknown"
    assert calls == []


def test_the_module_function_uses_the_process_wide_client(server, monkeypatch):
    from costpilot import client as module

    _, _, transport = server
    cp = client(transport, Clock())
    monkeypatch.setattr(module, "_default", cp)
    try:
        assert costpilot.budget_status("provider:openai").state == "over"
    finally:
        cp.close()
