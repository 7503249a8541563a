"""Pushed usage events: validation, outcomes and the records they become."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.ingest import (
    BatchError,
    Status,
    decode_body,
    parse_batch,
    parse_events,
    summary,
)
from chalicelib.domain.ingest_privacy import METADATA_ONLY, is_content_key
from chalicelib.domain.usage import RecordKind

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class FakePricing:
    """Stands in for pricing.estimate_cost: $1 per million input, $4 per million output tokens."""

    def __init__(self, known=("gpt-4o-mini",)):
        self.known = set(known)
        self.calls = []

    def __call__(
        self,
        provider,
        model,
        *,
        input_tokens=0,
        output_tokens=0,
        cached_input_tokens=0,
        cache_write_tokens=0,
        at=None,
    ):
        self.calls.append(
            (
                provider,
                model,
                input_tokens,
                output_tokens,
                cached_input_tokens,
                cache_write_tokens,
                at,
            )
        )
        if model not in self.known:
            return None
        return (
            Decimal(input_tokens) * 1 + Decimal(output_tokens) * 4 + Decimal(cached_input_tokens) / 10
        ).scaleb(-6)


def event(**overrides):
    base = {
        "id": "evt_1",
        "timestamp": "2025-03-10T11:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 1200,
        "output_tokens": 300,
        "project": "checkout",
        "feature": "search",
        "customer": "cus_42",
        "metadata": {"env": "prod", "request_id": "req_1"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def run(*events, pricing=None, **kwargs):
    return parse_events(
        {"events": list(events)},
        workspace_id="ws_1",
        source="push:cpk_live_abcdefg",
        now=kwargs.pop("now", NOW),
        estimate_cost=pricing if pricing is not None else FakePricing(),
        **kwargs,
    )


def rejected(ev, **kwargs):
    [outcome] = run(ev, **kwargs)
    assert outcome.status is Status.REJECTED, outcome
    assert outcome.record is None
    assert outcome.reason.startswith(outcome.field + ": ")
    return outcome


def test_token_event_becomes_one_event_record_with_estimated_cost():
    pricing = FakePricing()
    [outcome] = run(event(cached_input_tokens=1000, cache_write_tokens=10), pricing=pricing)
    assert outcome.status is Status.ACCEPTED and outcome.id == "evt_1" and not outcome.warnings
    r = outcome.record
    assert r.kind is RecordKind.EVENT and r.workspace_id == "ws_1" and r.source == "push:cpk_live_abcdefg"
    assert r.idempotency_id == "evt_1" and r.record_key().startswith("evt#")
    assert (r.provider, r.model, r.project, r.feature, r.customer) == (
        "openai",
        "gpt-4o-mini",
        "checkout",
        "search",
        "cus_42",
    )
    assert r.unit_type == "tokens" and r.units == Decimal(1200 + 300 + 1000 + 10)
    assert r.billed_cost is None
    assert r.estimated_cost == Decimal("0.0025")  # 1200*1e-6 + 300*4e-6 + 1000*1e-7
    assert r.currency == "USD"
    assert r.bucket_start == datetime(2025, 3, 10, 11, tzinfo=UTC) and r.bucket_end > r.bucket_start
    assert r.metadata["env"] == "prod"
    assert r.metadata["cp.input_tokens"] == "1200" and r.metadata["cp.cache_write_tokens"] == "10"
    assert pricing.calls == [("openai", "gpt-4o-mini", 1200, 300, 1000, 10, r.bucket_start)]


def test_given_cost_as_string_and_as_number_is_exact_and_not_estimated():
    pricing = FakePricing()
    outcomes = run(
        event(id="s", cost="0.1"),
        event(id="n", cost=0.1),
        event(id="x", cost="0.000000013700"),
        pricing=pricing,
    )
    assert [o.record.billed_cost for o in outcomes] == [
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("0.0000000137"),
    ]
    assert all(o.record.estimated_cost is None for o in outcomes)
    assert str(outcomes[1].record.billed_cost) == "0.1"  # not 0.1000000000000000055511151231257827
    assert pricing.calls == []


def test_cost_from_raw_body_uses_decimal_parsing():
    raw = (b'{"events": [{"id": "a", "timestamp": "2025-03-10T11:00:00Z", "provider": "openai", "units": 1, '
           b'"unit_type": "requests", "cost": 2.675}]}')
    [o] = parse_batch(raw, workspace_id="w", source="push:x", now=NOW, estimate_cost=None)
    assert o.record.billed_cost == Decimal(
        "2.675"
    )  # the float nearest is 2.67499999999999982236431605997495353221893310546875


def test_units_event_keeps_units_and_type():
    [o] = run(
        event(
            input_tokens=...,
            output_tokens=...,
            units="2.5",
            unit_type="GB_hours",
            cost="0.05",
        )
    )
    assert (
        o.record.units == Decimal("2.5")
        and o.record.unit_type == "gb_hours"
        and o.record.billed_cost == Decimal("0.05")
    )
    assert not any(k.startswith("cp.") for k in o.record.metadata)


def test_unknown_model_accepted_without_cost_and_warned():
    [o] = run(event(model="my-finetune"))
    assert o.status is Status.ACCEPTED
    assert o.record.estimated_cost is None and o.record.billed_cost is None
    assert o.warnings and o.warnings[0].startswith("cost:")
    assert o.to_json()["warnings"] == list(o.warnings)


def test_estimate_is_kept_to_12_decimal_places():
    def pricing(provider, model, **kw):
        return Decimal(1) / Decimal(3)

    [o] = run(event(), pricing=pricing)
    assert o.record.estimated_cost == Decimal("0.333333333333")


def test_timestamp_offsets_and_fractions_normalise_to_utc():
    outcomes = run(
        event(id="a", timestamp="2025-03-10T13:00:00+02:00"),
        event(id="b", timestamp="2025-03-10t11:00:00.123456789z"),
        event(id="c", timestamp="2025-03-10 11:00:00.5-00:30"),
    )
    assert [o.record.bucket_start for o in outcomes] == [
        datetime(2025, 3, 10, 11, tzinfo=UTC),
        datetime(2025, 3, 10, 11, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 3, 10, 11, 30, 0, 500000, tzinfo=UTC),
    ]


def test_provider_is_normalised_to_lower_case_and_currency_to_upper():
    [o] = run(event(provider="OpenAI", cost="1", currency="eur"))
    assert o.record.provider == "openai" and o.record.currency == "EUR"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": ...}, "id"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"id": "has space"}, "id"),
        ({"id": 7}, "id"),
        ({"timestamp": ...}, "timestamp"),
        ({"timestamp": "2025-03-10T11:00:00"}, "timestamp"),  # no timezone
        ({"timestamp": "2025-03-10"}, "timestamp"),
        ({"timestamp": 1741604400}, "timestamp"),
        ({"timestamp": "2025-02-30T11:00:00Z"}, "timestamp"),
        ({"timestamp": "2025-03-11T12:00:01Z"}, "timestamp"),  # > 1 day in the future
        ({"timestamp": "2024-03-09T11:00:00Z"}, "timestamp"),  # older than 365 days
        ({"provider": ...}, "provider"),
        ({"provider": "open ai"}, "provider"),
        ({"provider": 1}, "provider"),
        ({"model": ""}, "model"),
        ({"model": "m" * 129}, "model"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"input_tokens": 10**10 + 1}, "input_tokens"),
        ({"input_tokens": "12"}, "input_tokens"),
        ({"input_tokens": 12.5}, "input_tokens"),
        ({"input_tokens": True}, "input_tokens"),
        ({"output_tokens": None, "cached_input_tokens": -5}, "cached_input_tokens"),
        ({"cache_write_tokens": 1e12}, "cache_write_tokens"),
        ({"input_tokens": ..., "output_tokens": ...}, "units"),  # no quantity at all
        ({"units": 3, "unit_type": "requests"}, "units"),  # tokens and units
        ({"input_tokens": ..., "output_tokens": ..., "units": 3}, "unit_type"),
        ({"input_tokens": ..., "output_tokens": ..., "unit_type": "requests"}, "units"),
        (
            {
                "input_tokens": ...,
                "output_tokens": ...,
                "units": -1,
                "unit_type": "requests",
            },
            "units",
        ),
        (
            {
                "input_tokens": ...,
                "output_tokens": ...,
                "units": "1e11",
                "unit_type": "requests",
            },
            "units",
        ),
        (
            {
                "input_tokens": ...,
                "output_tokens": ...,
                "units": "lots",
                "unit_type": "requests",
            },
            "units",
        ),
        ({"cost": "-0.01"}, "cost"),
        ({"cost": "1000000.01"}, "cost"),
        ({"cost": 1e300}, "cost"),
        ({"cost": "NaN"}, "cost"),
        ({"cost": "Infinity"}, "cost"),
        ({"cost": "abc"}, "cost"),
        ({"cost": [1]}, "cost"),
        ({"cost": True}, "cost"),
        ({"cost": "0.0000000000001"}, "cost"),  # 13 decimal places
        ({"cost": "1", "currency": "XYZ"}, "currency"),
        ({"cost": "1", "currency": 840}, "currency"),
        ({"currency": "EUR"}, "currency"),  # no cost: the estimate would be USD
        ({"project": ""}, "project"),
        ({"project": "p" * 129}, "project"),
        ({"project": "line\nbreak"}, "project"),
        ({"project": "(unattributed)"}, "project"),
        ({"feature": 5}, "feature"),
        ({"customer": " padded"}, "customer"),
        ({"metadata": "env=prod"}, "metadata"),
        ({"metadata": {"n": 1}}, "metadata.n"),
        ({"metadata": {f"k{i}": "v" for i in range(21)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata." + "k" * 65),
        ({"metadata": {"cp.input_tokens": "1"}}, "metadata.cp.input_tokens"),
        ({"metadata": {"tab": "a\tb"}}, "metadata.tab"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_event_is_rejected_naming_the_field(overrides, field):
    outcome = rejected(event(**overrides))
    assert outcome.field == field, outcome.reason


@pytest.mark.parametrize(
    "key",
    [
        "prompt",
        "Prompt",
        "user_prompt",
        "systemPrompt",
        "response",
        "llm_response",
        "completion",
        "messages",
        "input",
        "output",
        "content",
        "text",
        "message_content",
        "answer",
    ],
)
def test_content_metadata_keys_are_rejected_as_metadata_only(key):
    outcome = rejected(event(metadata={key: "what is the capital of France?"}))
    assert outcome.field == f"metadata.{key}"
    assert METADATA_ONLY in outcome.reason


@pytest.mark.parametrize("key", ["prompt", "response", "messages", "completion", "input", "output"])
def test_content_fields_at_top_level_are_rejected_as_metadata_only(key):
    outcome = rejected(event(**{key: "hello"}))
    assert outcome.field == key and METADATA_ONLY in outcome.reason


def test_long_metadata_value_is_rejected_as_metadata_only():
    outcome = rejected(event(metadata={"note": "x" * 257}))
    assert outcome.field == "metadata.note" and METADATA_ONLY in outcome.reason


@pytest.mark.parametrize(
    "key",
    [
        "env",
        "request_id",
        "response_time_ms",
        "input_tokens_source",
        "user_id",
        "region",
    ],
)
def test_ordinary_metadata_keys_pass(key):
    assert not is_content_key(key)
    [o] = run(event(metadata={key: "v"}))
    assert o.status is Status.ACCEPTED


def test_several_errors_are_all_reported_first_field_named():
    outcome = rejected(event(input_tokens=-1, currency="XYZ", cost="1", project=""))
    for name in ("input_tokens", "currency", "project"):
        assert f"{name}: " in outcome.reason


def test_duplicate_ids_within_a_batch_first_accepted_wins():
    outcomes = run(
        event(id="a", cost="1"),
        event(id="a", cost="2"),
        event(id="b", cost="-1"),  # rejected: claims nothing
        event(id="b", cost="3"),
        event(id="b", cost="4"),
    )
    assert [o.status for o in outcomes] == [
        Status.ACCEPTED,
        Status.DUPLICATE,
        Status.REJECTED,
        Status.ACCEPTED,
        Status.DUPLICATE,
    ]
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4]
    assert outcomes[0].record.billed_cost == Decimal(1) and outcomes[3].record.billed_cost == Decimal(3)
    assert outcomes[1].record is None and outcomes[4].record is None
    assert summary(outcomes) == {"accepted": 2, "duplicate": 2, "rejected": 1}


def test_outcomes_keep_input_order_and_non_objects_are_rejected():
    outcomes = run(event(id="a"), 5, None, event(id="b"))
    assert [o.status for o in outcomes] == [
        Status.ACCEPTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.ACCEPTED,
    ]
    assert outcomes[1].field == "event" and outcomes[1].id is None
    assert outcomes[0].as_duplicate().status is Status.DUPLICATE and outcomes[0].as_duplicate().record is None
    assert outcomes[1].to_json() == {
        "index": 1,
        "id": None,
        "status": "rejected",
        "field": "event",
        "reason": "event: must be an object",
    }


def test_retention_and_future_windows_follow_injected_now():
    later = NOW + timedelta(days=400)
    [o] = run(event(), now=later, retention_days=500)
    assert o.status is Status.ACCEPTED
    assert rejected(event(), now=later, retention_days=30).field == "timestamp"
    [edge] = run(event(timestamp="2025-03-11T12:00:00Z"))  # exactly one day ahead
    assert edge.status is Status.ACCEPTED


def test_batch_of_1000_is_accepted_and_1001_refused():
    events = [event(id=f"e{i}") for i in range(1000)]
    assert len(run(*events)) == 1000
    with pytest.raises(BatchError) as info:
        run(*events, event(id="extra"))
    assert info.value.code == "too_many_events" and info.value.field == "events"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ("events", "body"),
        ({}, "events"),
        ({"events": {}}, "events"),
        ({"events": [], "extra": 1}, "extra"),
    ],
)
def test_bad_envelope(payload, field):
    with pytest.raises(BatchError) as info:
        parse_events(payload, workspace_id="w", source="push:x", now=NOW, estimate_cost=None)
    assert info.value.field == field and info.value.code == "invalid_batch"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "malformed_json"),
        (b"{not json", "malformed_json"),
        (b'{"events": [NaN]}', "malformed_json"),
        (b'{"events": [], "events": []}', "malformed_json"),
        (b"\xff\xfe{}", "malformed_json"),
        (b'{"events": [' + b" " * 1_048_576 + b"]}", "body_too_large"),
    ],
)
def test_bad_body(raw, code):
    with pytest.raises(BatchError) as info:
        decode_body(raw)
    assert info.value.code == code and info.value.field == "body"


def test_decode_body_reads_fractions_as_decimal():
    assert decode_body(b'{"a": 0.1, "b": 3}') == {"a": Decimal("0.1"), "b": 3}


def test_json_round_trip_of_a_realistic_batch():
    raw = json.dumps({"events": [event(id=f"r{i}", cost=f"0.00{i}") for i in range(1, 4)]}).encode()
    outcomes = parse_batch(raw, workspace_id="w", source="push:x", now=NOW, estimate_cost=FakePricing())
    assert [o.record.billed_cost for o in outcomes] == [
        Decimal("0.001"),
        Decimal("0.002"),
        Decimal("0.003"),
    ]


@pytest.mark.parametrize("timestamp", [
    "9999-12-31T23:59:59-01:00",  # past the last instant UTC can hold
    "0001-01-01T00:00:00+01:00",  # before the first
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
])
def test_calendar_edge_timestamps_are_rejected_per_event_and_the_good_ones_kept(timestamp):
    outcomes = run(event(id="good-1"), event(id="edge", timestamp=timestamp), event(id="good-2"), retention_days=400)
    assert [o.status for o in outcomes] == [Status.ACCEPTED, Status.REJECTED, Status.ACCEPTED]
    edge = outcomes[1]
    assert edge.field == "timestamp"
    assert "accepted from 400 days ago to 1 day ahead" in edge.reason, edge.reason
