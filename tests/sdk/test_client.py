"""The SDK's ingest client against a local fake of the push endpoint: batching, ids that make
retries idempotent, backoff honouring Retry-After, a bounded buffer that drops oldest, no raising."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import costpilot
import httpx
import pytest
from costpilot.client import Client

from tests.sdk.fakes import FakeIngest

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def client(fake, **kw):
    sleeps = []
    kw.setdefault("flush_interval", 3600)
    c = Client("cpk_live_test", "http://costpilot.test", transport=fake.transport(), sleep=sleeps.append, **kw)
    c.sleeps = sleeps
    return c


def test_record_sends_wire_events_with_generated_ids_on_flush():
    fake = FakeIngest()
    c = client(fake)
    first = c.record("openai", "gpt-4o-mini", input_tokens=1200, output_tokens=300, cost=Decimal("0.0021"),
                     feature="search", customer="acme", timestamp=T0)
    second = c.record("anthropic", "claude-haiku-4-5", input_tokens=10, output_tokens=5, cached_input_tokens=7,
                      cache_write_tokens=3, timestamp=T0, metadata={"region": "eu"})
    assert first and second and first != second
    assert fake.requests == []  # buffered, not sent from the caller's thread
    c.flush()
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.url.path == "/api/webhooks/provider-usage"
    assert request.headers["authorization"] == "Bearer cpk_live_test"
    assert fake.events == [
        {"id": first, "timestamp": "2026-11-30T12:00:00.000000Z", "provider": "openai", "model": "gpt-4o-mini",
         "input_tokens": 1200, "output_tokens": 300, "cost": "0.0021", "feature": "search", "customer": "acme"},
        {"id": second, "timestamp": "2026-11-30T12:00:00.000000Z", "provider": "anthropic",
         "model": "claude-haiku-4-5", "input_tokens": 10, "output_tokens": 5, "cached_input_tokens": 7,
         "cache_write_tokens": 3, "metadata": {"region": "eu"}},
    ]
    assert c.stats["accepted"] == 2 and c.pending == 0
    c.close()


def test_batches_hold_at_most_batch_size_and_a_full_batch_wakes_the_sender():
    fake = FakeIngest()
    c = client(fake, batch_size=1000)
    for i in range(2500):
        c.record("openai", "gpt-4o-mini", input_tokens=i, output_tokens=1, timestamp=T0)
    c.flush()
    sizes = [len(json.loads(b)["events"]) for b in fake.bodies]
    assert sum(sizes) == 2500 and max(sizes) <= 1000
    assert len({e["id"] for e in fake.events}) == 2500
    c.close()


def test_size_trigger_flushes_from_the_background_thread():
    fake = FakeIngest()
    c = client(fake, batch_size=10)
    for i in range(10):
        c.record("openai", "m", input_tokens=i, timestamp=T0)
    c._worker.join(timeout=0)  # the worker exists; closing waits for it
    c.close()
    assert sum(len(json.loads(b)["events"]) for b in fake.bodies) == 10


def test_retries_on_429_and_5xx_resend_the_same_ids_and_honour_retry_after():
    fake = FakeIngest(script=[httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {}}),
                              httpx.Response(503, json={"error": {}})])
    c = client(fake, backoff=0.5)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    c.flush()
    assert len(fake.bodies) == 3
    assert fake.bodies[0] == fake.bodies[1] == fake.bodies[2]  # same ids: the server dedups a retried batch
    assert c.sleeps[0] == 7.0 and 0 < c.sleeps[1] <= 1.5
    assert c.stats["accepted"] == 1 and c.stats["failed"] == 0
    c.close()


def test_a_retried_batch_the_server_already_stored_counts_once():
    fake = FakeIngest()
    c = client(fake)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    batch = c._take()
    c._send(batch)
    c._send(batch)  # e.g. the first answer was lost in a timeout
    assert c.stats["accepted"] == 1 and c.stats["duplicate"] == 1
    c.close()


def test_network_errors_retry_then_give_up_counted_without_raising(caplog):
    def down(request):
        raise httpx.ConnectError("refused", request=request)

    c = Client("cpk_live_test", "http://costpilot.test", transport=httpx.MockTransport(down), sleep=lambda s: None,
               max_retries=3, flush_interval=3600)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    with caplog.at_level(logging.ERROR, logger="costpilot"):
        c.flush()
    assert c.stats["failed"] == 1 and "ConnectError" in c.last_errors[-1]
    c.close()


def test_auth_errors_are_not_retried():
    fake = FakeIngest(script=[httpx.Response(401, json={"error": {"code": "unauthenticated", "message": "x"}})])
    c = client(fake)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    c.flush()
    assert len(fake.requests) == 1 and c.stats["failed"] == 1 and c.sleeps == []
    c.close()


def test_a_full_buffer_drops_the_oldest_with_a_counted_warning(caplog):
    fake = FakeIngest()
    c = client(fake, max_buffer=3, batch_size=1000)
    with caplog.at_level(logging.WARNING, logger="costpilot"):
        ids = [c.record("openai", "m", input_tokens=i, timestamp=T0) for i in range(5)]
    assert c.stats["dropped"] == 2 and c.pending == 3
    assert "dropped the oldest, 1 so far" in caplog.text and "2 so far" in caplog.text
    c.flush()
    assert [e["id"] for e in fake.events] == ids[2:]
    c.close()


def test_record_never_raises_into_the_caller():
    fake = FakeIngest()
    c = client(fake)
    assert c.record("openai", "m", input_tokens=1, timestamp=object()) is None
    assert c.record("openai", "m", input_tokens=1, metadata={"k": object()}, timestamp=T0)  # fails when encoded
    good = c.record("openai", "m", input_tokens=2, timestamp=T0)
    c.flush()  # flush does not raise either, and the bad event does not block the good one
    assert [e["id"] for e in fake.events] == [good] and c.stats["failed"] == 1
    c.close()
    assert c.record("openai", "m", input_tokens=1) is None  # closed: ignored, not an error


def test_without_a_key_nothing_is_recorded(monkeypatch, caplog):
    monkeypatch.delenv("COSTPILOT_INGEST_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="costpilot"):
        c = Client(transport=FakeIngest().transport())
    assert c.record("openai", "m", input_tokens=1) is None and "no ingest key" in caplog.text
    c.close()


def test_env_configures_key_and_url(monkeypatch):
    monkeypatch.setenv("COSTPILOT_INGEST_KEY", "cpk_live_env")
    monkeypatch.setenv("COSTPILOT_URL", "http://env.test/")
    fake = FakeIngest()
    c = Client(transport=fake.transport(), flush_interval=3600)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    c.close()  # close flushes
    assert str(fake.requests[0].url) == "http://env.test/api/webhooks/provider-usage"
    assert fake.requests[0].headers["authorization"] == "Bearer cpk_live_env"


def test_tags_context_manager_nests_and_explicit_arguments_win():
    fake = FakeIngest()
    c = client(fake)
    with costpilot.tags(feature="search", customer="acme"):
        c.record("openai", "m", input_tokens=1, timestamp=T0)
        with costpilot.tags(customer="globex", project="web"):
            c.record("openai", "m", input_tokens=1, timestamp=T0)
        c.record("openai", "m", input_tokens=1, timestamp=T0, feature="chat")
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    c.flush()
    got = [(e.get("feature"), e.get("customer"), e.get("project")) for e in fake.events]
    assert got == [("search", "acme", None), ("search", "globex", "web"), ("chat", "acme", None), (None, None, None)]
    c.close()


def test_big_events_split_batches_under_the_servers_body_limit():
    fake = FakeIngest()
    c = client(fake)
    meta = {f"k{i}": "v" * 250 for i in range(20)}  # ~5 KB an event
    for i in range(400):
        c.record("openai", "m", input_tokens=i, timestamp=T0, metadata=meta)
    c.flush()
    assert len(fake.bodies) >= 3 and all(len(b) < 1_048_576 for b in fake.bodies)
    assert len(fake.events) == 400
    c.close()


@pytest.mark.parametrize("value", ["Wed, 21 Oct 2015 07:28:00 GMT", "nonsense", ""])
def test_retry_after_forms(value):
    from costpilot.client import _retry_after

    result = _retry_after(value)
    assert result is None or result >= 0


def test_a_forked_child_gets_its_own_sender():
    from costpilot.client import _after_fork

    fake = FakeIngest()
    c = client(fake)
    c.record("openai", "m", input_tokens=1, timestamp=T0)
    parent_worker = c._worker
    _after_fork()  # what os.register_at_fork runs in the child
    assert c._worker is None
    c.record("openai", "m", input_tokens=2, timestamp=T0)
    assert c._worker is not None and c._worker is not parent_worker
    c.close()
    assert len(fake.events) == 2
