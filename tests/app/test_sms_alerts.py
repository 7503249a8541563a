"""SMS alerts end to end through the app (chalice test client, moto) and the fake Twilio Messages
API over real HTTP: a number verified by a code sent by SMS, an alert fired and its SMS in the
fake's outbox, signed status callbacks moving the delivery record, the email fallback for an SMS
that did not arrive, the per-period and daily caps (also under concurrent sends), forged callbacks
refused and bad numbers answered with 400."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest

from chalicelib.domain import sms
from devstack import outbox
from devstack.fakes.base import serve
from devstack.fakes.twilio_messages import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilioMessages
from tests.app.test_alert_flow import create, evaluate, history, push
from tests.helpers import purge_queue

NUMBER = "+14155550123"
UNREACHABLE = "+14155550000"  # the fake accepts it, then reports it undelivered


@pytest.fixture
def twilio(api, aws, monkeypatch):
    def post(url: str, form: dict, headers: dict) -> int:  # Twilio's callback, into the app
        parts = urlsplit(url)
        r = api.client.http.request("POST", f"{parts.path}?{parts.query}", headers=headers, body=urlencode(form))
        return r.status_code

    fake = FakeTwilioMessages(post=post)
    served = serve(fake)
    monkeypatch.setenv("COSTPILOT_TWILIO_API_BASE", served.base_url)
    monkeypatch.setenv("COSTPILOT_SECRET_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("COSTPILOT_SECRET_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("COSTPILOT_SECRET_TWILIO_SENDER", SENDER)
    monkeypatch.setenv("COSTPILOT_ALERT_COALESCE_SECONDS", "0")
    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "true")  # as the local stack: the fake on 127.0.0.1
    for q in ("alerts", "alert-deliveries"):
        purge_queue(q)
    yield fake
    served.stop()


def numbers_path(user) -> str:
    return f"/api/workspaces/{user.workspace_id}/sms/numbers"


def code_sent_to(fake, number: str) -> str:
    body = next(m.body for m in reversed(fake.messages) if m.to == number)
    return re.search(r"\b(\d{6})\b", body).group(1)


def verify(api, user, fake, number: str = NUMBER) -> None:
    r = api.post(numbers_path(user), {"number": number}, token=user.token)
    assert r.status == 202, r.body
    r = api.post(numbers_path(user) + "/verify", {"number": number, "code": code_sent_to(fake, number)},
                 token=user.token)
    assert r.status == 200 and r.json["status"] == "verified", r.body


def sms_alert(api, user, number: str = NUMBER, **spec):
    return create(api, user, amount=5, channels=[{"type": "sms", "number": number}], **spec)


def alert_sms(fake, number: str = NUMBER):
    return [m for m in fake.messages if m.to == number and "verification code" not in m.body]


def sms_delivery(api, user):
    [firing] = history(api, user)
    [d] = firing["deliveries"]
    return d


def test_verify_a_number_fire_an_alert_and_follow_its_status_to_delivered(api, user, twilio):
    r = api.post(numbers_path(user), {"number": "+1 (415) 555-0123"}, token=user.token)
    assert r.status == 202 and r.json["number"] == NUMBER and r.json["status"] == "pending", r.body
    [code_sms] = twilio.messages
    assert code_sms.to == NUMBER and code_sms.sender == SENDER and "verification code" in code_sms.body
    code = code_sent_to(twilio, NUMBER)
    wrong = "000000" if code != "000000" else "111111"
    r = api.post(numbers_path(user) + "/verify", {"number": NUMBER, "code": wrong}, token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "code"
    r = api.post(numbers_path(user) + "/verify", {"number": NUMBER, "code": code}, token=user.token)
    assert r.status == 200 and r.json["status"] == "verified"
    listed = api.get(numbers_path(user), token=user.token).json["numbers"]
    assert [(n["number"], n["status"]) for n in listed] == [(NUMBER, "verified")]

    alert = sms_alert(api, user)
    assert alert["channels"][0] == {"channel_id": alert["channels"][0]["channel_id"], "type": "sms", "number": NUMBER}
    evaluate(api)
    push(user.workspace_id, "6.25")
    evaluate(api)
    [message] = alert_sms(twilio)
    link = re.search(r"(http://testserver/s/\w{8})$", message.body).group(1)  # the stage's public URL
    assert message.body == f"CostPilot: OpenAI spend is $6.25 this week, over your $5.00 threshold {link}"
    assert sms.is_gsm7(message.body) and sms.segments(message.body) == 1
    d = sms_delivery(api, user)
    assert (d["type"], d["status"], d["sms_status"]) == ("sms", "sent", "queued")

    assert twilio.settle(message.sid) == [200, 200]
    d = sms_delivery(api, user)
    assert d["sms_status"] == "delivered" and d["email_fallback"] is None
    # a late "sent" (callbacks can arrive out of order) or a replay does not move it back
    assert twilio.callback(message, "sent") == 200
    assert sms_delivery(api, user)["sms_status"] == "delivered"

    r = api.get(urlsplit(link).path)
    firing = history(api, user)[0]["firing_id"]
    assert r.status == 302, r.body
    assert r.headers["location"].startswith(f"http://testserver/app/workspaces/{user.workspace_id}/alerts/"
                                            f"{alert['alert_id']}?firing="), r.headers
    assert firing.replace(":", "%3A") in r.headers["location"]
    assert api.get("/s/zzzzzzzz").status == 404

    push(user.workspace_id, "10")  # more spend in the same period: no second SMS
    evaluate(api)
    assert len(alert_sms(twilio)) == 1


def test_an_undelivered_sms_falls_back_to_email_once(api, user, twilio):
    verify(api, user, twilio, UNREACHABLE)
    sms_alert(api, user, UNREACHABLE)
    push(user.workspace_id, "7")
    evaluate(api)
    [message] = alert_sms(twilio, UNREACHABLE)
    assert outbox.messages(to=user.email) == []
    assert twilio.settle(message.sid) == [200, 200]
    d = sms_delivery(api, user)
    assert (d["sms_status"], d["email_fallback"]) == ("undelivered", "sent")
    [mail] = outbox.messages(to=user.email)
    assert mail["subject"].endswith("(SMS not delivered)") and "$7.00" in mail["subject"]
    assert "+1******0000 was undelivered (Twilio error 30003)" in mail["text"]
    for _ in range(2):  # Twilio retrying, or someone replaying the captured callback
        assert twilio.callback(message, "undelivered", 30003) == 200
        assert twilio.callback(message, "failed", 30003) == 200
    assert len(outbox.messages(to=user.email)) == 1


def test_forged_or_foreign_callbacks_are_refused_and_change_nothing(api, user, twilio):
    verify(api, user, twilio)
    sms_alert(api, user)
    push(user.workspace_id, "6")
    evaluate(api)
    [message] = alert_sms(twilio)
    assert twilio.callback(message, "failed", 30008, sign_with="not-the-auth-token") == 403
    parts = urlsplit(message.status_callback)
    form = {"AccountSid": ACCOUNT_SID, "MessageSid": message.sid, "MessageStatus": "failed"}
    for headers in ({}, {"X-Twilio-Signature": "bm9wZQ=="}):
        r = api.client.http.request("POST", f"{parts.path}?{parts.query}", body=urlencode(form),
                                    headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        assert r.status_code == 403 and b'"forbidden"' in r.body
    # signed correctly but for another delivery's URL: the signature covers the URL
    from devstack.fakes.twilio_messages import signature

    other = f"{parts.path}?{urlencode({'d': 'ws_x#al_x:p:100#ch_x'})}"
    good_for_original = signature(AUTH_TOKEN, message.status_callback, form)
    r = api.client.http.request("POST", other, body=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": good_for_original})
    assert r.status_code == 403
    d = sms_delivery(api, user)
    assert (d["sms_status"], d["email_fallback"]) == ("queued", None)
    assert outbox.messages(to=user.email) == []


@pytest.mark.parametrize("number", ["4155550123", "+0415555012", "+1415", "0044 20 7946 0958", "+1415555012a",
                                    "+1234567890123456"])
def test_bad_numbers_get_a_400_and_send_nothing(api, user, twilio, number):
    r = api.post(numbers_path(user), {"number": number}, token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "number", r.body
    assert twilio.messages == []


def test_numbers_twilio_refuses_and_unverified_numbers_are_400(api, user, twilio):
    r = api.post(numbers_path(user), {"number": "+15005550001"}, token=user.token)
    assert r.status == 400 and "21211" in r.json["error"]["message"]
    twilio.trial = True
    r = api.post(numbers_path(user), {"number": "+447700900123"}, token=user.token)
    assert r.status == 400 and "21608" in r.json["error"]["message"]
    r = api.post(f"/api/workspaces/{user.workspace_id}/alerts",
                 {"name": "x", "kind": "threshold", "amount": 5, "period": {"kind": "weekly"},
                  "channels": [{"type": "sms", "number": "+14155559999"}]}, token=user.token)
    assert r.status == 400 and r.json["error"]["field"] == "channels.0.number"
    assert [m.to for m in twilio.messages] == []


def test_codes_expire_are_limited_and_resends_wait(api, user, twilio, monkeypatch):
    r = api.post(numbers_path(user), {"number": NUMBER}, token=user.token)
    assert r.status == 202
    r = api.post(numbers_path(user), {"number": NUMBER}, token=user.token)
    assert r.status == 429 and int(r.headers["retry-after"]) > 0  # a new code only after 30 s
    code = code_sent_to(twilio, NUMBER)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = api.post(numbers_path(user) + "/verify", {"number": NUMBER, "code": wrong}, token=user.token)
        assert r.status == 400
    r = api.post(numbers_path(user) + "/verify", {"number": NUMBER, "code": code}, token=user.token)
    assert r.status == 429  # even the right code, after five wrong ones
    import time as time_module

    from chalicelib.services import sms_numbers

    later = time_module.time() + 11 * 60
    monkeypatch.setattr(sms_numbers.time, "time", lambda: later)
    r = api.post(numbers_path(user), {"number": NUMBER}, token=user.token)
    assert r.status == 202
    fresh = code_sent_to(twilio, NUMBER)
    later += 11 * 60  # expired
    r = api.post(numbers_path(user) + "/verify", {"number": NUMBER, "code": fresh}, token=user.token)
    assert r.status == 400 and "expired" in r.json["error"]["message"]
    from chalicelib.store.sms import SmsItem, number_marker

    stored = SmsItem.get(user.workspace_id, number_marker(NUMBER))
    assert fresh not in (stored.code_hash or "") and len(stored.code_hash) == 64


def test_a_removed_number_receives_nothing(api, user, twilio):
    verify(api, user, twilio)
    sms_alert(api, user)
    assert api.delete(numbers_path(user) + "/%2B14155550123", token=user.token).status == 204
    assert api.delete(numbers_path(user) + "/14155550123", token=user.token).status == 404
    push(user.workspace_id, "6")
    evaluate(api)
    assert alert_sms(twilio) == []
    d = sms_delivery(api, user)
    assert d["status"] == "cancelled" and "not verified" in d["last_error"]


def test_one_sms_per_alert_period_the_next_level_is_recorded_capped(api, user, twilio):
    verify(api, user, twilio)
    create(api, user, kind="budget", name="Monthly budget", amount=100, period={"kind": "monthly"}, scope=None,
           channels=[{"type": "sms", "number": NUMBER}])
    push(user.workspace_id, "55")
    evaluate(api)
    push(user.workspace_id, "30")
    evaluate(api)
    assert len(alert_sms(twilio)) == 1
    latest, first = history(api, user)
    assert (first["level"], first["deliveries"][0]["status"]) == ("50", "sent")
    assert (latest["level"], latest["deliveries"][0]["status"]) == ("80", "capped")
    assert "already sent" in latest["deliveries"][0]["last_error"]


def _notification(ws: str, alert_id: str) -> object:
    from chalicelib.domain.alert_messages import Notification

    return Notification(workspace_id=ws, alert_id=alert_id, alert_name="Load", kind="threshold",
                        key=f"{alert_id}:2026-W49:100", headline="OpenAI spend is $6.00 this week",
                        figure=Decimal(6), threshold=Decimal(5))


def test_strict_stages_refuse_a_plain_http_twilio_base(api, user, twilio, monkeypatch):
    from chalicelib.adapters import twilio_sms

    monkeypatch.setenv("COSTPILOT_ALLOW_LOCAL_CHANNELS", "false")
    with pytest.raises(twilio_sms.DeliveryError, match="https"):
        twilio_sms.send(NUMBER, "hello")
    assert twilio.messages == []


def test_the_daily_cap_and_the_period_hold_under_concurrent_sends(api, user, twilio, monkeypatch):
    from chalicelib.adapters.channels import DeliveryError
    from chalicelib.services import sms_delivery as service
    from chalicelib.services import sms_quota

    monkeypatch.setenv("COSTPILOT_SMS_DAILY_CAP", "4")
    verify(api, user, twilio)  # the code is one of the four
    ws = user.workspace_id

    def send(i: int, alert_id: str | None = None) -> str:
        alert_id = alert_id or f"al_load{i:02d}"
        try:
            service.send({"number": NUMBER}, _notification(ws, alert_id), f"{ws}#{alert_id}:2026-W49:100#ch_{i:02d}"
                         if alert_id.startswith("al_load") else f"{ws}#{alert_id}:2026-W49:{i}#ch_same")
        except DeliveryError as e:
            return e.final_status or "error"
        return "sent"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(send, range(8)))
    assert sorted(outcomes) == ["capped"] * 5 + ["sent"] * 3
    assert len(alert_sms(twilio)) == 3 and sms_quota.sent_today(ws) == 4

    monkeypatch.setenv("COSTPILOT_SMS_DAILY_CAP", "100")  # the period's one SMS, raced by five levels
    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(lambda i: send(i, "al_period"), range(5)))
    assert sorted(outcomes) == ["capped"] * 4 + ["sent"]
    assert len(alert_sms(twilio)) == 4


def test_a_failed_send_is_retried_through_the_queue_and_counted_once(api, user, twilio):
    from chalicelib.services import sms_quota

    verify(api, user, twilio)
    sms_alert(api, user)
    twilio.fail_next(503)  # Twilio's 20503 for the alert's first attempt
    push(user.workspace_id, "6")
    evaluate(api)
    d = sms_delivery(api, user)
    assert d["status"] == "failed" and "20503" in d["last_error"] and alert_sms(twilio) == []
    firing = history(api, user)[0]["firing_id"]
    record = {"messageId": "d1", "receiptHandle": "r", "attributes": {"ApproximateReceiveCount": "1"},
              "body": json.dumps({"workspace_id": user.workspace_id, "firing_key": firing}),
              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:x",
              "awsRegion": "us-east-1"}
    for _ in range(2):  # the queue's retry, and a redelivery of it
        assert api.client.lambda_.invoke("alert_delivery_worker", {"Records": [record]}).payload == {
            "batchItemFailures": []}
    d = sms_delivery(api, user)
    assert (d["status"], d["attempts"], d["sms_status"]) == ("sent", 2, "queued")
    assert len(alert_sms(twilio)) == 1
    assert sms_quota.sent_today(user.workspace_id) == 2  # the code and the alert, the retry not twice
