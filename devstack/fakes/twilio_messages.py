"""Fake Twilio Messages API (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``): records
every SMS it accepts (the local outbox shows them) and later POSTs status callbacks signed like
Twilio's (``X-Twilio-Signature``: base64 HMAC-SHA1 of the callback URL + sorted params, keyed with
the auth token).

Wire format as twilio-python and twilio-oai describe it: form-encoded ``To``, ``From`` or
``MessagingServiceSid``, ``Body``, ``StatusCallback``; HTTP Basic with the Account SID + auth token
or an API key SID + secret; 201 with the message resource (``sid`` ``SM`` + 32 hex, ``status``
``queued`` or ``accepted`` for a Messaging Service, ``num_segments`` as a string, RFC 2822 dates);
errors in the legacy body ``{"code","message","more_info","status"}``: 20003 (401) bad credentials,
21211 invalid ``To``, 21602 no body, 21603/21606 no or foreign ``From``, 21608 an unverified
number on a trial account, 21610 a recipient who replied STOP, 21614 a number that cannot receive SMS.

Magic numbers, like Twilio's test credentials: ``+15005550001`` is invalid (21211), ``+15005550009``
cannot receive SMS (21614); numbers ending in ``0000`` are accepted and then ``undelivered``
(ErrorCode 30003, unreachable handset). Everything else is delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import FakeProvider

ACCOUNT_SID = "AC5a1e5c0ffee0123456789abcdef0123"
AUTH_TOKEN = "fake0twilio0messages0token0000e1"
SENDER = "+15005550006"  # Twilio's test "From" that always works
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
INVALID, NOT_MOBILE = "+15005550001", "+15005550009"


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@dataclass
class SentMessage:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    created_at: datetime
    status: str = "queued"
    error_code: int | None = None
    callbacks: list[dict] = field(default_factory=list)  # what was posted back, and the answer

    def to_dict(self) -> dict:
        return {"sid": self.sid, "to": self.to, "from": self.sender, "body": self.body, "status": self.status,
                "error_code": self.error_code, "created_at": self.created_at.isoformat(),
                "callbacks": [dict(c) for c in self.callbacks]}


Poster = Callable[[str, dict[str, str], dict[str, str]], int]


class FakeTwilioMessages(FakeProvider):
    provider = "twilio-messages"
    request_id_header = "Twilio-Request-Id"

    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 senders: tuple[str, ...] = (SENDER,), trial: bool = False, verified: tuple[str, ...] = (),
                 post: Poster | None = None, auto_callbacks: float | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        """``trial``: only ``verified`` numbers may be sent to (21608 otherwise). ``post(url, form,
        headers) -> status`` delivers callbacks (default: httpx). ``auto_callbacks``: seconds after
        which ``sent`` and the final status are posted by themselves (the local stack); None: only
        when ``settle`` is called (tests)."""
        super().__init__(now=now)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.senders = set(senders)
        self.trial = trial
        self.verified = set(verified)
        self.opted_out: set[str] = set()
        self.messages: list[SentMessage] = []
        self._post = post or _httpx_post
        self.auto_callbacks = auto_callbacks
        self._logins = {(account_sid, auth_token)}

    def add_api_key(self, sid: str, secret: str) -> None:
        self._logins.add((sid, secret))

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        auth = request.authorization
        return auth is not None and auth.type == "basic" and (auth.username, auth.password) in self._logins

    def error(self, status: int, message: str | None, code: int | None = None) -> Response:
        code = code or {401: 20003, 403: 20003, 404: 20404, 429: 20429, 503: 20503}.get(
            status, 20500 if status >= 500 else 21000)
        default = {20003: "Authenticate", 20404: "The requested resource was not found", 20429: "Too Many Requests",
                   20500: "Internal Server Error", 20503: "Service Unavailable"}.get(code, "Error")
        return self.json({"code": code, "message": message or default,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}, status)

    def route(self, request: Request) -> Response:
        if request.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return self.error(404, f"The requested resource {request.path} was not found")
        if request.method != "POST":
            return self.error(405, "Method not allowed", 20004)
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("From") or form.get("MessagingServiceSid") or ""
        if not to:
            return self.error(400, "A 'To' phone number is required.", 21604)
        if not _E164.match(to) or to == INVALID:
            return self.error(400, f"The 'To' number {to} is not a valid phone number.", 21211)
        if not sender:
            return self.error(400, "A 'From' phone number is required.", 21603)
        if not sender.startswith("MG") and sender not in self.senders:
            return self.error(400, f"The From phone number {sender} is not a valid, SMS-capable inbound phone number "
                              "or short code for your account.", 21606)
        if not body:
            return self.error(400, "Message body is required.", 21602)
        if to == NOT_MOBILE:
            return self.error(400, f"To number: {to}, is not a mobile number", 21614)
        if to in self.opted_out:
            return self.error(400, "Attempt to send to unsubscribed recipient", 21610)
        if self.trial and to not in self.verified:
            return self.error(400, f"The number {to} is unverified. Trial accounts cannot send messages to unverified "
                              "numbers; verify it at twilio.com/user/account/phone-numbers/verified, or purchase a "
                              "Twilio number to send messages to unverified numbers.", 21608)
        message = SentMessage("SM" + secrets.token_hex(16), to, sender, body, form.get("StatusCallback"),
                              self.now(), "accepted" if sender.startswith("MG") else "queued")
        self.messages.append(message)
        if self.auto_callbacks is not None and message.status_callback:
            timer = threading.Timer(self.auto_callbacks, self.settle, args=(message.sid,))
            timer.daemon = True
            timer.start()
        return self.json(self._resource(message), 201)

    def _resource(self, m: SentMessage) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{m.sid}.json"
        date = format_datetime(m.created_at.astimezone(UTC), usegmt=True)
        segments = 1 if len(m.body) <= 160 else -(-len(m.body) // 153)
        return {"account_sid": self.account_sid, "api_version": "2010-04-01", "body": m.body, "date_created": date,
                "date_sent": None, "date_updated": date, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": None if m.sender.startswith("MG") else m.sender,
                "messaging_service_sid": m.sender if m.sender.startswith("MG") else None, "num_media": "0",
                "num_segments": str(segments), "price": None, "price_unit": "USD", "sid": m.sid, "status": m.status,
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")}, "to": m.to, "uri": uri}

    # -- callbacks -----------------------------------------------------------------------------

    def final_status(self, m: SentMessage) -> tuple[str, int | None]:
        return ("undelivered", 30003) if m.to.endswith("0000") else ("delivered", None)

    def settle(self, sid: str, status: str | None = None, error_code: int | None = None) -> list[int]:
        """Posts ``sent`` and then the final status (``delivered``, or what the number's rule says,
        or ``status``/``error_code``) to the message's callback; returns the answers' statuses."""
        m = next(x for x in self.messages if x.sid == sid)
        if status is None:
            status, error_code = self.final_status(m)
        return [self.callback(m, "sent"), self.callback(m, status, error_code)]

    def callback(self, m: SentMessage, status: str, error_code: int | None = None, *,
                 sign_with: str | None = None) -> int:
        """One signed status callback (``sign_with`` another token to forge a bad one)."""
        m.status, m.error_code = status, error_code
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": m.sender, "MessageSid": m.sid,
                "MessageStatus": status, "SmsSid": m.sid, "SmsStatus": status, "To": m.to}
        if error_code:
            form["ErrorCode"] = str(error_code)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": signature(sign_with or self.auth_token, m.status_callback or "", form),
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16), "User-Agent": "TwilioProxy/1.1"}
        answer = self._post(m.status_callback or "", form, headers) if m.status_callback else 0
        m.callbacks.append({"status": status, "answer": answer})
        return answer

    def outbox(self) -> list[dict]:
        return [m.to_dict() for m in self.messages]

    def restore(self, saved: list[dict]) -> None:
        """Messages of an earlier run (``outbox()``'s shape), so the local outbox keeps them."""
        self.messages.extend(SentMessage(m["sid"], m["to"], m["from"], m["body"], None,
                                         datetime.fromisoformat(m["created_at"]), m["status"], m.get("error_code"),
                                         list(m.get("callbacks", []))) for m in saved)

    def environment(self, base_url: str) -> dict[str, str]:
        """What the app reads to send through this fake: the API base and the stage's Twilio secrets."""
        return {"COSTPILOT_TWILIO_API_BASE": base_url, "COSTPILOT_SECRET_TWILIO_ACCOUNT_SID": self.account_sid,
                "COSTPILOT_SECRET_TWILIO_AUTH_TOKEN": self.auth_token,
                "COSTPILOT_SECRET_TWILIO_SENDER": min(self.senders)}


def _httpx_post(url: str, form: dict[str, str], headers: dict[str, str]) -> int:
    import httpx

    try:
        return httpx.post(url, data=form, headers=headers, timeout=10).status_code
    except httpx.HTTPError:
        return 0
