"""StripeFeesClient against the fake balance transactions API and a documented fixture."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalicelib.domain.usage import RecordKind
from chalicelib.providers.errors import AuthError, MalformedResponse, TransientError
from chalicelib.providers.http import RetryPolicy
from chalicelib.providers.stripe_fees import StripeFeesClient
from devstack.fakes import FakeStripeBalance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2025, 9, 10, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
START = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture
def fake(clock):
    return FakeStripeBalance(seed=3, now=clock, history_days=40)


def make_client(fake, clock, sleep, key=None, **kwargs):
    return StripeFeesClient(key or fake.api_key, transport=httpx.WSGITransport(app=fake), sleep=sleep, now=clock,
                            **kwargs)


def by_day(records):
    return {(r.bucket_start.date(), r.currency): r.billed_cost for r in records}


def test_daily_fees_equal_the_fakes_bill_exactly(fake, clock, sleep):
    records = make_client(fake, clock, sleep).fetch("ws1", "conn1", START, NOW)
    assert by_day(records) == fake.billed_fees()
    assert {r.currency for r in records} == {"USD", "EUR"}
    assert all(r.kind is RecordKind.COST and r.line_item == "stripe_fees" for r in records)
    assert len(fake.requests) > 1  # default limit 100: several pages


def test_pagination_newest_first_with_starting_after(fake, clock, sleep):
    records = make_client(fake, clock, sleep, page_size=10).fetch("ws1", "conn1", START, NOW)
    assert by_day(records) == fake.billed_fees()
    cursors = [r.args.get("starting_after") for r in fake.requests]
    assert cursors[0] is None and all(cursors[1:]) and len(set(cursors[1:])) == len(cursors) - 1
    assert all(r.args["limit"] == "10" for r in fake.requests)


def test_three_fetches_give_identical_records(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    runs = [{r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)} for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_late_fee_restates_the_day_as_a_whole(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    day = TODAY - timedelta(days=5)
    before = {r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)}
    fake.restate(day, Decimal("99.99"))
    fake.grow_today(2)
    after = {r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)}
    assert before.keys() <= after.keys()
    record = next(r for r in after.values() if r.bucket_start.date() == day and r.currency == "USD")
    assert record.billed_cost == Decimal("99.99")  # replaced, not added to
    assert by_day(after.values()) == fake.billed_fees()


def test_a_narrow_window_still_recomputes_whole_days(fake, clock, sleep):
    day = datetime(2025, 9, 3, tzinfo=UTC)
    records = make_client(fake, clock, sleep).fetch("ws1", "conn1", day + timedelta(hours=20),
                                                    day + timedelta(hours=21))
    assert fake.requests[0].args["created[gte]"] == str(int(day.timestamp()))
    assert fake.requests[0].args["created[lt]"] == str(int((day + timedelta(days=1)).timestamp()))
    assert by_day(records) == {k: v for k, v in fake.billed_fees().items() if k[0] == day.date()}


def test_429_honours_retry_after_and_5xx_gives_transient(fake, clock, sleep):
    fake.fail_next(status=429, retry_after=2)
    client = make_client(fake, clock, sleep, policy=RetryPolicy(max_attempts=2))
    assert by_day(client.fetch("ws1", "conn1", START, NOW)) == fake.billed_fees()
    assert sleep.calls == [2.0]
    fake.fail_next(status=502, times=2)
    with pytest.raises(TransientError):
        client.fetch("ws1", "conn1", START, NOW)
    assert len(sleep.calls) == 2


def test_invalid_key_raises_auth_error_without_the_secret(fake, clock, sleep):
    secret = "rk_live_WRONGkey0000000000000000000000000000000000000000000000zz99"
    with pytest.raises(AuthError) as info:
        make_client(fake, clock, sleep, key=secret).verify()
    assert "Invalid API Key provided" in str(info.value)
    assert secret not in str(info.value) + repr(info.value)
    fake.reject_key(status=403)
    with pytest.raises(AuthError) as info:
        make_client(fake, clock, sleep).fetch("ws1", "conn1", START, NOW)
    assert "rak_balance_transaction_source_read" in str(info.value)


def test_malformed_payloads_raise(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    fake.malformed_next()
    with pytest.raises(MalformedResponse):
        client.fetch("ws1", "conn1", START, NOW)
    body = json.loads((FIXTURES / "stripe_balance_transactions.json").read_text())
    body["data"][0]["fee"] = "1.72"
    fake.malformed_next(body)
    with pytest.raises(MalformedResponse):
        client.fetch("ws1", "conn1", START, NOW)


def test_documented_payload_parses_exactly():
    body = json.loads((FIXTURES / "stripe_balance_transactions.json").read_text())
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = StripeFeesClient("rk_test_x", transport=transport, now=lambda: NOW)
    records = client.fetch("ws1", "conn1", datetime(2025, 8, 28, tzinfo=UTC), datetime(2025, 8, 30, tzinfo=UTC))
    # the separately billed fee (amount -250) landed on the 28th, the charge's fee (172) on the 29th;
    # the payout carries no fee
    assert [(r.day, r.billed_cost, r.units) for r in records] == [
        ("2025-08-28", Decimal("2.50"), 1),
        ("2025-08-29", Decimal("1.72"), 1),
    ]
