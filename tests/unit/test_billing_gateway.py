"""The webhook verifier (stripe's own, with our tolerance) and the local fake's control endpoints."""

from __future__ import annotations

import json
import urllib.request

import pytest

from chalicelib.adapters.stripe_gateway import InvalidWebhook, verify_webhook
from devstack.fakes.stripe_api import sign

SECRET = "whsec_unit"
EVENT = {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}


def _payload(event=EVENT) -> bytes:
    return json.dumps(event).encode()


NOW = 1_767_225_600  # a fixed clock: 2026-01-01T00:00:00Z; nothing here reads the wall clock


def test_a_genuine_signature_answers_the_event():
    assert verify_webhook(_payload(), sign(_payload(), SECRET, NOW), SECRET, now=NOW) == EVENT


def test_any_v1_may_match_during_secret_rotation():
    header = sign(_payload(), "whsec_old", NOW) + "," + sign(_payload(), SECRET, NOW).split(",")[1]
    assert verify_webhook(_payload(), header, SECRET, now=NOW)["id"] == "evt_1"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_signature_within_five_minutes_either_way_is_accepted(offset):
    assert verify_webhook(_payload(), sign(_payload(), SECRET, NOW + offset), SECRET, now=NOW)["id"] == "evt_1"


# The headers are built inside the test from the fixed clock: ids are the names, never the values,
# so every collection (each xdist worker, at any instant) sees the same tests.
REJECTED = {
    "missing": lambda: None,
    "empty": lambda: "",
    "garbage": lambda: "garbage",
    "timestamp_only": lambda: "t=1",
    "other_secret": lambda: sign(_payload(), "whsec_other", NOW),
    "five_minutes_old": lambda: sign(_payload(), SECRET, NOW - 301),
    "five_minutes_ahead": lambda: sign(_payload(), SECRET, NOW + 301),
    "a_year_ahead": lambda: sign(_payload(), SECRET, NOW + 365 * 86400),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_headers(case):
    with pytest.raises(InvalidWebhook):
        verify_webhook(_payload(), REJECTED[case](), SECRET, now=NOW)


def test_a_signed_body_that_is_not_an_event_is_rejected():
    for body in (b"[1]", b"not json", json.dumps({"id": 1}).encode()):
        with pytest.raises(InvalidWebhook):
            verify_webhook(body, sign(body, SECRET, NOW), SECRET, now=NOW)


def test_the_local_fake_answers_control_endpoints_with_the_key_only():
    from devstack import stripe_local

    served, env = stripe_local.start("http://127.0.0.1:9", port=0)
    try:
        assert env["COSTPILOT_STRIPE_API_BASE"] == served.base_url
        request = urllib.request.Request(served.base_url + "/_fake/events",
                                         headers={"Authorization": f"Bearer {stripe_local.LOCAL_SECRET_KEY}"})
        assert json.loads(urllib.request.urlopen(request, timeout=5).read()) == []
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(served.base_url + "/_fake/events", timeout=5)
        assert e.value.code == 401
    finally:
        served.stop()


def test_a_body_that_is_not_utf8_is_rejected_not_a_crash():
    body = b"\xf8\x1ev\xb7\x01_"
    with pytest.raises(InvalidWebhook):
        verify_webhook(body, "t=1,v1=abc", SECRET, now=NOW)
