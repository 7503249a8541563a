"""AnthropicClient against the fake Anthropic Admin API and documented JSON fixtures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalicelib.domain.pricing import estimate_cost
from chalicelib.domain.usage import RecordKind
from chalicelib.providers.anthropic import AnthropicClient
from chalicelib.providers.errors import (
    AuthError,
    BadRequest,
    MalformedResponse,
    TransientError,
)
from chalicelib.providers.http import RetryPolicy
from devstack.fakes import FakeAnthropic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2025, 9, 10, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
START = datetime(2025, 8, 1, tzinfo=UTC)


@pytest.fixture
def fake(clock):
    return FakeAnthropic(seed=11, now=clock, history_days=40)


def make_client(fake, clock, sleep, key=None, **kwargs):
    return AnthropicClient(
        key or fake.admin_key, transport=httpx.WSGITransport(app=fake), sleep=sleep, now=clock, **kwargs
    )


def fetch(client, start=START, end=NOW):
    return client.fetch("ws1", "conn1", start, end)


def cost_total(records):
    return sum((r.billed_cost for r in records if r.kind is RecordKind.COST), Decimal(0))


def test_costs_equal_the_fakes_bill_exactly(fake, clock, sleep):
    records = fetch(make_client(fake, clock, sleep))
    assert cost_total(records) == fake.billed_total()
    headers = fake.requests[0].headers
    assert headers["X-Api-Key"] == fake.admin_key and headers["Anthropic-Version"] == "2023-06-01"
    assert all(r.currency == "USD" for r in records)


def test_usage_tokens_include_the_cache_creation_object(fake, clock, sleep):
    records = [r for r in fetch(make_client(fake, clock, sleep)) if r.kind is RecordKind.USAGE]
    totals = Counter()
    for r in records:
        totals[r.unit_type] += int(r.units)
    assert dict(totals) == fake.token_totals()
    assert totals["cache_write_tokens"] > 0
    batch = next(r for r in records if r.line_item == "batch" and r.unit_type == "input_tokens" and r.units)
    assert batch.estimated_cost == estimate_cost("anthropic", batch.model, input_tokens=int(batch.units), batch=True,
                                                 at=batch.bucket_start)
    standard = estimate_cost("anthropic", batch.model, input_tokens=int(batch.units), at=batch.bucket_start)
    assert batch.estimated_cost < standard


def test_pagination_crosses_pages(fake, clock, sleep):
    records = fetch(make_client(fake, clock, sleep, page_size=7))
    assert sum(1 for r in fake.requests if "page" in r.args) >= 10
    assert cost_total(records) == fake.billed_total()
    for request in fake.requests:
        assert request.args.getlist("group_by[]")  # bracket form, as documented
        assert int(request.args["limit"]) == 7


def test_three_fetches_give_identical_records(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    runs = [{r.record_key(): r for r in fetch(client)} for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_restated_bucket_replaces_under_the_same_key(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    before = {r.record_key(): r for r in fetch(client) if r.kind is RecordKind.COST}
    day = TODAY - timedelta(days=3)
    while not any(r.bucket_start.date() == day for r in before.values()):
        day -= timedelta(days=1)
    workspace, description = fake.restate(day, Decimal("4321.5"))
    after = {r.record_key(): r for r in fetch(client) if r.kind is RecordKind.COST}
    assert before.keys() == after.keys()
    changed = [after[k] for k in after if after[k].billed_cost != before[k].billed_cost]
    assert [(r.bucket_start.date(), r.project, r.line_item, r.billed_cost) for r in changed] == [
        (day, workspace, description, Decimal("43.215"))
    ]


def test_today_grows_in_place(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    first = cost_total(r for r in fetch(client) if r.bucket_start.date() == TODAY)
    fake.grow_today(uncached_input_tokens=2_000_000, output_tokens=0)
    second = cost_total(r for r in fetch(client) if r.bucket_start.date() == TODAY)
    assert second - first == Decimal(6)  # 2M tokens x $3/M
    assert cost_total(fetch(client)) == fake.billed_total()


def test_partial_start_is_aligned_and_today_included(fake, clock, sleep):
    records = fetch(make_client(fake, clock, sleep), start=datetime(2025, 9, 1, 9, 17, tzinfo=UTC))
    assert {r.args["starting_at"] for r in fake.requests} == {"2025-09-01T00:00:00Z"}
    assert {r.args["ending_at"] for r in fake.requests} == {"2025-09-11T00:00:00Z"}
    assert cost_total(records) == fake.billed_total(start=datetime(2025, 9, 1).date())


def test_429_honours_retry_after(fake, clock, sleep):
    fake.fail_next(status=429, retry_after=2)
    records = fetch(make_client(fake, clock, sleep))
    assert sleep.calls == [2.0]
    assert cost_total(records) == fake.billed_total()


def test_overloaded_529_backs_off_then_raises_transient(fake, clock, sleep):
    fake.fail_next(status=529, times=5)
    with pytest.raises(TransientError) as info:
        fetch(make_client(fake, clock, sleep, policy=RetryPolicy(max_attempts=3)))
    assert info.value.status == 529 and "Overloaded" in str(info.value)
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert len(sleep.calls) == 2


def test_rejected_key_raises_auth_error_with_reason(fake, clock, sleep):
    with pytest.raises(AuthError) as info:
        make_client(fake, clock, sleep, key="sk-ant-api03-notAdmin-0000000000000000").verify()
    assert "invalid x-api-key" in str(info.value)
    assert "sk-ant-api03-notAdmin" not in repr(info.value)
    fake.reject_key("This key has been disabled", status=403)
    with pytest.raises(AuthError) as info:
        fetch(make_client(fake, clock, sleep))
    assert "disabled" in str(info.value) and fake.admin_key not in str(info.value) + repr(info.value)


def test_malformed_payload_raises(fake, clock, sleep):
    fake.malformed_next()
    with pytest.raises(MalformedResponse):
        fetch(make_client(fake, clock, sleep))


def test_non_numeric_cents_raise(fake, clock, sleep):
    body = json.loads((FIXTURES / "anthropic_cost_report.json").read_text())
    body["data"][0]["results"][0]["amount"] = "12,50"
    fake.malformed_next(body)
    with pytest.raises(MalformedResponse):
        fetch(make_client(fake, clock, sleep))


def test_bad_date_range_is_a_bad_request(fake, clock, sleep):
    # A window with no complete daily bucket is refused by Anthropic; the client never sends one,
    # but the error must map to BadRequest if it ever happens.
    fake.reject_key("Invalid date range: ending date must be after starting date", status=400)
    with pytest.raises(BadRequest):
        fetch(make_client(fake, clock, sleep))


def _fixture_transport():
    def handler(request: httpx.Request) -> httpx.Response:
        name = "anthropic_cost_report.json" if "cost_report" in request.url.path else "anthropic_usage_messages.json"
        return httpx.Response(200, json=json.loads((FIXTURES / name).read_text()))

    return httpx.MockTransport(handler)


def test_documented_payloads_parse_exactly():
    client = AnthropicClient("sk-ant-admin01-x", transport=_fixture_transport(), now=lambda: NOW)
    records = fetch(client, datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 3, tzinfo=UTC))
    cost = {r.line_item: r for r in records if r.kind is RecordKind.COST}
    assert cost["Claude Sonnet 4 Usage - Input Tokens"].billed_cost == Decimal("1.23864")
    assert cost["Claude Sonnet 4 Usage - Output Tokens"].billed_cost == Decimal("1.46013")
    assert cost["Web Search Usage"].billed_cost == Decimal("0.12")
    assert cost["Claude Sonnet 4 Usage - Input Tokens"].unit_type == "input_tokens"
    assert cost["Web Search Usage"].model is None
    usage = {r.unit_type: r for r in records if r.kind is RecordKind.USAGE}
    assert usage["cache_write_tokens"].units == 86410
    assert usage["cached_input_tokens"].units == 1935200
    assert usage["input_tokens"].estimated_cost == Decimal("1.23864")  # 412880 x $3/M: matches the bill
    assert usage["input_tokens"].metadata["web_search_requests"] == "12"
