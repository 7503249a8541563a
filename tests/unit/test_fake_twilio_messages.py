"""The fake Twilio Messages API speaks Twilio's format: 201 with the message resource, legacy error
bodies with Twilio's codes, and status callbacks signed as twilio-python's RequestValidator checks."""

from __future__ import annotations

import httpx

from chalicelib.domain import twilio_signature
from devstack.fakes.twilio_messages import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilioMessages

PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def _client(fake):
    return httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.twilio.com")


def test_accepts_a_message_and_answers_the_resource():
    fake = FakeTwilioMessages()
    r = _client(fake).post(PATH, data={"To": "+14155550123", "From": SENDER, "Body": "hi",
                                       "StatusCallback": "https://x.example/cb?d=1"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert r.status_code == 201
    body = r.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34 and body["status"] == "queued"
    assert body["num_segments"] == "1" and body["to"] == "+14155550123" and body["account_sid"] == ACCOUNT_SID
    assert [m.body for m in fake.messages] == ["hi"]


def test_errors_carry_twilio_codes():
    fake = FakeTwilioMessages(trial=True, verified=("+14155550123",))
    c = _client(fake)
    assert c.post(PATH, data={"To": "+14155550123", "From": SENDER, "Body": "x"},
                  auth=(ACCOUNT_SID, "wrong")).json()["code"] == 20003
    cases = {"+1415": 21211, "+15005550001": 21211, "+15005550009": 21614, "+447700900123": 21608}
    for to, code in cases.items():
        r = c.post(PATH, data={"To": to, "From": SENDER, "Body": "x"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
        assert (r.status_code, r.json()["code"]) == (400, code), to
        assert r.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    r = c.post(PATH, data={"To": "+14155550123", "From": "+19999999999", "Body": "x"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert r.json()["code"] == 21606
    assert fake.messages == []


def test_status_callbacks_are_signed_like_twilio():
    got = []
    fake = FakeTwilioMessages(post=lambda url, form, headers: got.append((url, form, headers)) or 200)
    _client(fake).post(PATH, data={"To": "+14155550000", "From": SENDER, "Body": "x",
                                   "StatusCallback": "https://x.example/cb?d=a%23b"}, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert fake.settle(fake.messages[0].sid) == [200, 200]
    assert [form["MessageStatus"] for _, form, _ in got] == ["sent", "undelivered"]
    assert got[1][1]["ErrorCode"] == "30003"
    for url, form, headers in got:
        assert twilio_signature.valid(AUTH_TOKEN, url, form.items(), headers["X-Twilio-Signature"])


def test_the_outbox_survives_a_restart_of_the_local_stack():
    fake = FakeTwilioMessages()
    _client(fake).post(PATH, data={"To": "+14155550123", "From": SENDER, "Body": "kept"},
                       auth=(ACCOUNT_SID, AUTH_TOKEN))
    again = FakeTwilioMessages()
    again.restore(fake.outbox())
    assert again.outbox() == fake.outbox() and again.outbox()[0]["body"] == "kept"
