from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.usage import RecordKind, UsageRecord

T0 = datetime(2025, 9, 1, tzinfo=UTC)


def rec(**kw):
    base = {"workspace_id": "ws", "kind": RecordKind.COST, "source": "sync:c1", "provider": "openai",
            "bucket_start": T0, "bucket_end": T0 + timedelta(days=1), "billed_cost": Decimal("1.5")}
    return UsageRecord(**{**base, **kw})


def test_key_is_deterministic_and_ignores_the_value():
    assert rec().record_key() == rec(billed_cost=Decimal(9)).record_key()  # a restatement replaces
    assert rec().record_key() != rec(project="p2").record_key()
    assert rec().record_key() != rec(kind=RecordKind.USAGE).record_key()


def test_pushed_events_are_keyed_by_idempotency_id():
    e = rec(kind="event", source="push:k", idempotency_id="abc")
    assert e.record_key() == rec(kind="event", source="push:k", idempotency_id="abc", model="x").record_key()
    with pytest.raises(ValueError):
        rec(kind="event").record_key()


def test_times_must_be_aware_and_ordered():
    with pytest.raises(ValueError):
        rec(bucket_start=datetime(2025, 9, 1))
    with pytest.raises(ValueError):
        rec(bucket_end=T0)
    assert rec().day == "2025-09-01"
