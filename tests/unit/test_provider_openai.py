"""OpenAIClient against the fake OpenAI (in-process) and against documented JSON fixtures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalicelib.domain.pricing import estimate_cost
from chalicelib.domain.usage import RecordKind
from chalicelib.providers.errors import (
    AuthError,
    MalformedResponse,
    RateLimited,
    TransientError,
)
from chalicelib.providers.http import RetryPolicy
from chalicelib.providers.openai import OpenAIClient
from devstack.fakes import FakeOpenAI, serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2025, 9, 10, 15, 30, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
def fake(clock):
    return FakeOpenAI(seed=7, now=clock, history_days=40)


def make_client(fake, clock, sleep, key=None, **kwargs):
    return OpenAIClient(
        key or fake.admin_key, transport=httpx.WSGITransport(app=fake), sleep=sleep, now=clock, **kwargs
    )


def window(days=40):
    return datetime(2025, 9, 10, tzinfo=UTC) - timedelta(days=days), NOW


def fetch(client, start=None, end=None):
    s, e = window()
    return client.fetch("ws1", "conn1", start or s, end or e)


def costs(records):
    return [r for r in records if r.kind is RecordKind.COST]


def test_costs_equal_the_fakes_bill_exactly(fake, clock, sleep):
    records = fetch(make_client(fake, clock, sleep))
    total = sum((r.billed_cost for r in costs(records)), Decimal(0))
    assert total == fake.billed_total()
    by_day = Counter()
    for r in costs(records):
        by_day[r.bucket_start.date()] += r.billed_cost
    assert {d: v for d, v in by_day.items() if v} == fake.billed_by_day()
    assert all(r.source == "sync:conn1" and r.workspace_id == "ws1" and r.currency == "USD" for r in records)


def test_usage_tokens_split_cached_and_match_the_fake(fake, clock, sleep):
    records = [r for r in fetch(make_client(fake, clock, sleep)) if r.kind is RecordKind.USAGE]
    totals = Counter()
    for r in records:
        totals[r.unit_type] += int(r.units)
    assert dict(totals) == fake.token_totals()
    one = next(r for r in records if r.unit_type == "cached_input_tokens" and r.units)
    assert one.estimated_cost == estimate_cost(
        "openai", one.model, cached_input_tokens=int(one.units), batch=one.metadata["batch"] == "true",
        at=one.bucket_start,
    )
    assert one.estimated_cost is not None and one.estimated_cost > 0


def test_pagination_crosses_pages(fake, clock, sleep):
    client = make_client(fake, clock, sleep, page_size=4)
    records = fetch(client)
    paged = [r for r in fake.requests if "page" in r.args]
    assert len(paged) >= 2 * (41 // 4 - 1)
    assert sum((r.billed_cost for r in costs(records)), Decimal(0)) == fake.billed_total()
    # default page sizes: 41 daily buckets need two usage pages (max 31) and one costs page (max 180)
    fake.requests.clear()
    fetch(make_client(fake, clock, sleep))
    paths = Counter(r.path for r in fake.requests)
    assert paths == {"/v1/organization/costs": 1, "/v1/organization/usage/completions": 2}


def test_three_fetches_give_identical_records(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    runs = [{r.record_key(): r for r in fetch(client)} for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == len(fetch(client))  # keys are unique within a fetch


def test_restated_bucket_replaces_under_the_same_key(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    day = next(d for d in sorted(fake.billed_by_day()) if d < TODAY - timedelta(days=2))
    before = {r.record_key(): r for r in costs(fetch(client))}
    line_item, project = fake.restate(day, Decimal("12.3456789"))
    after = {r.record_key(): r for r in costs(fetch(client))}
    assert before.keys() == after.keys()
    changed = [k for k in after if after[k].billed_cost != before[k].billed_cost]
    assert len(changed) == 1
    record = after[changed[0]]
    assert (record.bucket_start.date(), record.line_item, record.project) == (day, line_item, project)
    assert record.billed_cost == Decimal("12.3456789")
    assert sum((r.billed_cost for r in after.values()), Decimal(0)) == fake.billed_total()


def test_today_grows_in_place(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    first = {r.record_key(): r for r in costs(fetch(client)) if r.bucket_start.date() == TODAY}
    fake.grow_today(input_tokens=1_000_000, output_tokens=100_000)
    clock.advance(hours=2)
    second = {r.record_key(): r for r in costs(fetch(client)) if r.bucket_start.date() == TODAY}
    assert set(first) <= set(second)
    assert sum(r.billed_cost for r in second.values()) > sum((r.billed_cost for r in first.values()), Decimal(0))
    assert sum((r.billed_cost for r in costs(fetch(client))), Decimal(0)) == fake.billed_total()


def test_never_sends_a_future_end_time_and_aligns_a_partial_start(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    records = client.fetch("ws1", "conn1", datetime(2025, 9, 1, 13, 45, tzinfo=UTC), NOW + timedelta(days=5))
    now = int(NOW.timestamp())
    for request in fake.requests:
        assert int(request.args["end_time"]) <= now
        assert int(request.args["start_time"]) == int(datetime(2025, 9, 1, tzinfo=UTC).timestamp())
    assert min(r.bucket_start for r in records) >= datetime(2025, 9, 1, tzinfo=UTC)
    assert all(r.bucket_start.hour == 0 for r in records)
    total = sum((r.billed_cost for r in costs(records)), Decimal(0))
    assert total == fake.billed_total(start=date(2025, 9, 1))


def test_429_honours_retry_after(fake, clock, sleep):
    fake.fail_next(status=429, retry_after=3)
    records = fetch(make_client(fake, clock, sleep))
    assert sleep.calls == [3.0]
    assert sum((r.billed_cost for r in costs(records)), Decimal(0)) == fake.billed_total()


def test_429_gives_rate_limited_after_max_attempts(fake, clock, sleep):
    fake.fail_next(status=429, retry_after=1, times=5)
    with pytest.raises(RateLimited) as info:
        fetch(make_client(fake, clock, sleep, policy=RetryPolicy(max_attempts=2)))
    assert info.value.retry_after == 1.0 and info.value.status == 429


def test_5xx_backs_off_then_raises_transient(fake, clock, sleep):
    fake.fail_next(status=500, times=10)
    policy = RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=2.0)
    with pytest.raises(TransientError) as info:
        fetch(make_client(fake, clock, sleep, policy=policy))
    assert info.value.status == 500 and info.value.request_id
    assert len(sleep.calls) == 3
    assert all(0.5 <= s <= 2.0 for s in sleep.calls)
    assert len(fake.requests) == 4


def test_one_5xx_is_retried_transparently(fake, clock, sleep):
    fake.fail_next(status=503)
    records = fetch(make_client(fake, clock, sleep))
    assert len(sleep.calls) == 1
    assert sum((r.billed_cost for r in costs(records)), Decimal(0)) == fake.billed_total()


def test_rejected_key_raises_auth_error_without_the_secret(fake, clock, sleep):
    fake.reject_key()
    client = make_client(fake, clock, sleep)
    with pytest.raises(AuthError) as info:
        client.verify()
    assert "Incorrect API key provided" in str(info.value)
    assert fake.admin_key not in str(info.value) and fake.admin_key not in repr(info.value)
    assert sleep.calls == []  # auth errors are not retried
    assert fake.admin_key not in repr(client)


def test_wrong_key_echoed_by_the_provider_is_redacted(fake, clock, sleep):
    secret = "sk-proj-NOTANADMINKEY1234567890"
    fake.reject_key(f"Incorrect API key provided: {secret}", status=403)
    with pytest.raises(AuthError) as info:
        fetch(make_client(fake, clock, sleep, key=secret))
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.status == 403


def test_verify_accepts_a_good_key(fake, clock, sleep):
    make_client(fake, clock, sleep).verify()
    assert fake.requests[-1].path == "/v1/organization/costs"


def test_malformed_payload_raises(fake, clock, sleep):
    fake.malformed_next()
    with pytest.raises(MalformedResponse):
        fetch(make_client(fake, clock, sleep))


def test_non_numeric_amount_raises(fake, clock, sleep):
    body = json.loads((FIXTURES / "openai_costs.json").read_text())
    body["data"][0]["results"][0]["amount"]["value"] = "lots"
    fake.malformed_next(body)
    with pytest.raises(MalformedResponse):
        fetch(make_client(fake, clock, sleep))


def _fixture_transport():
    def handler(request: httpx.Request) -> httpx.Response:
        name = "openai_costs.json" if request.url.path.endswith("/costs") else "openai_usage_completions.json"
        return httpx.Response(200, json=json.loads((FIXTURES / name).read_text()))

    return httpx.MockTransport(handler)


def test_documented_payloads_parse_exactly():
    client = OpenAIClient("sk-admin-x", transport=_fixture_transport(), now=lambda: NOW)
    records = client.fetch("ws1", "conn1", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 3, tzinfo=UTC))
    cost = {r.line_item: r for r in costs(records)}
    assert cost["gpt-4o-mini-2024-07-18, input"].billed_cost == Decimal("0.2763408")
    assert cost["gpt-4o-mini-2024-07-18, output"].billed_cost == Decimal("0.1272462")
    assert cost["gpt-4o-mini-2024-07-18, input"].model == "gpt-4o-mini-2024-07-18"
    assert cost["gpt-4o-mini-2024-07-18, input"].units == 1842272
    usage = {r.unit_type: r for r in records if r.kind is RecordKind.USAGE}
    assert usage["input_tokens"].units == 1843210 - 905344
    assert usage["cached_input_tokens"].units == 905344
    assert "cache_write_tokens" not in usage  # absent from older payloads
    # the partial first bucket keeps the provider's bounds
    assert usage["input_tokens"].bucket_start == datetime(2025, 9, 1, 13, 0, tzinfo=UTC)
    assert usage["input_tokens"].bucket_end == datetime(2025, 9, 2, tzinfo=UTC)
    assert usage["output_tokens"].estimated_cost == Decimal("0.1272462")  # $0.60/M x 212077


def test_served_on_a_loopback_port(fake, clock, sleep):
    with serve(fake) as served:
        client = OpenAIClient(fake.admin_key, base_url=served.base_url, sleep=sleep, now=clock)
        client.verify()
        assert sum((r.billed_cost for r in costs(fetch(client))), Decimal(0)) == fake.billed_total()
