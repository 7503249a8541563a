"""The webhook verifier (stripe's own, with our tolerance) and the local fake's control endpoints."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from chalicelib.adapters.stripe_gateway import InvalidWebhook, verify_webhook
from devstack.fakes.stripe_api import sign

SECRET = "whsec_unit"
EVENT = {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}


def _payload(event=EVENT) -> bytes:
    return json.dumps(event).encode()


def test_a_genuine_signature_answers_the_event():
    assert verify_webhook(_payload(), sign(_payload(), SECRET), SECRET) == EVENT


def test_any_v1_may_match_during_secret_rotation():
    header = sign(_payload(), "whsec_old") + "," + sign(_payload(), SECRET).split(",")[1]
    assert verify_webhook(_payload(), header, SECRET)["id"] == "evt_1"


@pytest.mark.parametrize("header", [
    None, "", "garbage", "t=1", sign(_payload(), "whsec_other"), sign(_payload(), SECRET, int(time.time()) - 301),
])
def test_rejected_headers(header):
    with pytest.raises(InvalidWebhook):
        verify_webhook(_payload(), header, SECRET)


def test_a_signed_body_that_is_not_an_event_is_rejected():
    for body in (b"[1]", b"not json", json.dumps({"id": 1}).encode()):
        with pytest.raises(InvalidWebhook):
            verify_webhook(body, sign(body, SECRET), SECRET)


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
