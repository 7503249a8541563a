"""TwilioClient against the fake Twilio Usage Records API and a documented JSON fixture."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalicelib.domain.usage import RecordKind
from chalicelib.providers.errors import AuthError, MalformedResponse, TransientError
from chalicelib.providers.http import RetryPolicy
from chalicelib.providers.twilio import TwilioClient
from devstack.fakes import FakeTwilio
from devstack.fakes.twilio import ACCOUNT_SID, API_KEY_SECRET, API_KEY_SID, AUTH_TOKEN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NOW = datetime(2025, 9, 10, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
START = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture
def fake(clock):
    return FakeTwilio(seed=5, now=clock, history_days=60)


def make_client(fake, clock, sleep, **kwargs):
    kwargs.setdefault("auth_token", AUTH_TOKEN)
    return TwilioClient(ACCOUNT_SID, transport=httpx.WSGITransport(app=fake), sleep=sleep, now=clock, **kwargs)


def total(records):
    return sum((r.billed_cost for r in records), Decimal(0))


def test_daily_totals_equal_the_fakes_bill_exactly(fake, clock, sleep):
    records = make_client(fake, clock, sleep).fetch("ws1", "conn1", START, NOW)
    assert total(records) == fake.billed_total()
    assert all(r.kind is RecordKind.COST and r.line_item == "totalprice" for r in records)
    for r in records:
        assert r.billed_cost == fake.price(r.bucket_start.date())
        assert r.bucket_end - r.bucket_start == timedelta(days=1)
    assert len({r.bucket_start for r in records}) == len(records)
    quiet = [d for d in fake.ledger_days() if fake.price(d) == 0]
    assert quiet and not any(r.bucket_start.date() in quiet for r in records)  # empty days: no record


def test_end_date_is_inclusive_so_the_window_end_is_excluded(fake, clock, sleep):
    records = make_client(fake, clock, sleep).fetch(
        "ws1", "conn1", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 5, tzinfo=UTC)
    )
    assert fake.requests[0].args["StartDate"] == "2025-09-01"
    assert fake.requests[0].args["EndDate"] == "2025-09-04"
    assert total(records) == fake.billed_total(date(2025, 9, 1), date(2025, 9, 5))


def test_api_key_auth_and_next_page_uri(fake, clock, sleep):
    client = make_client(fake, clock, sleep, auth_token=None, api_key_sid=API_KEY_SID,
                         api_key_secret=API_KEY_SECRET, page_size=7)
    records = client.fetch("ws1", "conn1", START, NOW)
    assert total(records) == fake.billed_total()
    followed = [r for r in fake.requests if "PageToken" in r.args]
    assert len(followed) == len(fake.requests) - 1 >= 8


def test_three_fetches_give_identical_records(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    runs = [{r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)} for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_restated_day_and_growing_today_replace_in_place(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    before = {r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)}
    day = TODAY - timedelta(days=4)
    while fake.price(day) == 0:
        day -= timedelta(days=1)
    fake.restate(day, Decimal("7.77777"))
    fake.grow_today(Decimal("2.5"))
    after = {r.record_key(): r for r in client.fetch("ws1", "conn1", START, NOW)}
    assert before.keys() <= after.keys()
    changed = {after[k].bucket_start.date(): after[k].billed_cost for k in after if k not in before or
               after[k].billed_cost != before[k].billed_cost}
    assert changed[day] == Decimal("7.77777")
    assert set(changed) == {day, TODAY}
    assert total(after.values()) == fake.billed_total()


def test_429_honours_retry_after_and_5xx_gives_transient(fake, clock, sleep):
    fake.fail_next(status=429, retry_after=4)
    client = make_client(fake, clock, sleep, policy=RetryPolicy(max_attempts=3, max_delay=1.0))
    assert total(client.fetch("ws1", "conn1", START, NOW)) == fake.billed_total()
    assert sleep.calls == [4.0]
    fake.fail_next(status=500, times=3)
    with pytest.raises(TransientError) as info:
        client.fetch("ws1", "conn1", START, NOW)
    assert "Internal Server Error" in str(info.value) and info.value.request_id.startswith("RQ")
    assert len(sleep.calls) == 3


def test_bad_credentials_raise_auth_error_without_the_secret(fake, clock, sleep):
    secret = "wrongtoken000000000000000000zzzz"
    client = make_client(fake, clock, sleep, auth_token=secret)
    with pytest.raises(AuthError) as info:
        client.verify()
    assert info.value.status == 401 and "Authenticate" in str(info.value)
    assert secret not in str(info.value) + repr(info.value) + repr(client)
    make_client(fake, clock, sleep).verify()
    assert fake.requests[-1].path.endswith("/Usage/Records/Today.json")


def test_malformed_payloads_raise(fake, clock, sleep):
    client = make_client(fake, clock, sleep)
    fake.malformed_next()
    with pytest.raises(MalformedResponse):
        client.fetch("ws1", "conn1", START, NOW)
    body = json.loads((FIXTURES / "twilio_usage_records_daily.json").read_text())
    body["usage_records"][1]["price"] = "twenty"
    fake.malformed_next(body)
    with pytest.raises(MalformedResponse):
        client.fetch("ws1", "conn1", START, NOW)


def test_documented_payload_parses_exactly():
    body = json.loads((FIXTURES / "twilio_usage_records_daily.json").read_text())
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    client = TwilioClient(ACCOUNT_SID, "token", transport=transport, now=lambda: NOW)
    records = client.fetch("ws1", "conn1", datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 3, tzinfo=UTC))
    assert [(r.day, r.billed_cost, r.currency) for r in records] == [
        ("2025-09-01", Decimal("18.47250"), "USD"),
        ("2025-09-02", Decimal("21.03910"), "USD"),
    ]
    assert records[0].metadata["as_of"] == "2025-09-03T06:12:44+00:00"
