"""A workspace's SMS numbers: verified before any alert goes to them.

Adding a number sends a 6-digit code by SMS (it counts against the workspace's daily SMS cap); the
code is stored only as an HMAC keyed with the stage's token-signing secret, expires after
``CODE_MINUTES``, allows ``MAX_ATTEMPTS`` wrong entries, and a new one can be asked for after
``RESEND_SECONDS`` (at most ``MAX_SENDS`` while the number is pending). Every counted step is a
conditional write, so concurrent requests cannot exceed a limit. An alert's ``sms`` channel may
only name a verified number, and the number is checked again at each send (a removed number
receives nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import unquote

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError

from chalicelib.adapters import secrets as stage_secrets
from chalicelib.domain import sms
from chalicelib.errors import Conflict, NotFound, TooManyAttempts, ValidationFailed
from chalicelib.store.base import cancelled_by_condition, is_condition_failure, transaction
from chalicelib.store.identity import Membership
from chalicelib.store.sms import SmsItem, number_marker

log = logging.getLogger("costpilot.sms")

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
MAX_SENDS = 5
RESEND_SECONDS = 30
PREFIX = "sms-number#"


def parse(raw: str, field: str = "number") -> str:
    try:
        return sms.normalize_e164(raw)
    except sms.InvalidNumber as e:
        raise ValidationFailed(str(e), field=field) from None


def _code_hash(workspace_id: str, number: str, code: str) -> str:
    key = stage_secrets.get("token-signing-key").encode()
    return hmac.new(key, f"sms-code:{workspace_id}:{number}:{code}".encode(), hashlib.sha256).hexdigest()


def view(item: SmsItem) -> dict:
    out = {"number": item.number, "status": item.status,
           "created_at": item.created_at.isoformat() if item.created_at else None,
           "verified_at": item.verified_at.isoformat() if item.verified_at else None}
    if item.status == "pending":
        out["code_expires_at"] = datetime.fromtimestamp(item.code_expires, UTC).isoformat()
        out["resend_after"] = datetime.fromtimestamp(item.last_sent + RESEND_SECONDS, UTC).isoformat()
        out["attempts_left"] = max(0, MAX_ATTEMPTS - int(item.attempts))
    return out


def _get(workspace_id: str, number: str) -> SmsItem | None:
    try:
        return SmsItem.get(workspace_id, number_marker(number), consistent_read=True)
    except DoesNotExist:
        return None


def list_for(workspace_id: str) -> list[dict]:
    items = SmsItem.query(workspace_id, SmsItem.marker.startswith(PREFIX), consistent_read=True)
    return [view(i) for i in items]


def is_verified(workspace_id: str, number: str) -> bool:
    item = _get(workspace_id, number)
    return item is not None and item.status == "verified"


def start(m: Membership, raw_number: str) -> dict:
    """Sends a verification code to ``raw_number`` (a new number, or a new code for a pending one)."""
    from chalicelib.adapters import twilio_sms
    from chalicelib.services import sms_quota

    number = parse(raw_number)
    now = int(time.time())
    code = f"{secrets.randbelow(10**6):06d}"
    item = SmsItem(m.workspace_id, number_marker(number))
    condition = SmsItem.marker.does_not_exist() | (
        (SmsItem.status == "pending") & (SmsItem.sends < MAX_SENDS) & (SmsItem.last_sent <= now - RESEND_SECONDS))
    try:
        with transaction() as t:
            t.update(item, actions=[
                SmsItem.number.set(number), SmsItem.status.set("pending"),
                SmsItem.code_hash.set(_code_hash(m.workspace_id, number, code)),
                SmsItem.code_expires.set(now + CODE_MINUTES * 60), SmsItem.attempts.set(0), SmsItem.sends.add(1),
                SmsItem.last_sent.set(now), SmsItem.created_by.set(m.user_id),
                SmsItem.created_at.set(SmsItem.created_at | datetime.now(UTC))], condition=condition)
    except TransactWriteError as e:
        if not any(cancelled_by_condition(e)):
            raise
        _refuse_start(m.workspace_id, number, now)
    sms_quota.take_daily_slot(m.workspace_id)
    try:
        twilio_sms.send(number, sms.render_code(code, CODE_MINUTES))
    except twilio_sms.NotConfigured:
        raise Conflict("SMS is not available on this stage") from None
    except twilio_sms.TwilioRefused as e:
        if e.retryable:
            raise TooManyAttempts("Twilio is busy; ask for a code again shortly", retry_after=RESEND_SECONDS) from None
        raise ValidationFailed(f"the code could not be sent to this number (Twilio error {e.code})",
                               field="number") from None
    except twilio_sms.DeliveryError:
        raise TooManyAttempts("Twilio could not be reached; ask for a code again shortly",
                              retry_after=RESEND_SECONDS) from None
    log.info("verification code sent to %s for %s", sms.mask(number), m.workspace_id)
    found = _get(m.workspace_id, number)
    return view(found) if found else {"number": number, "status": "pending"}


def _refuse_start(workspace_id: str, number: str, now: int) -> None:
    item = _get(workspace_id, number)
    if item is None:
        raise Conflict("the number changed meanwhile; try again")
    if item.status == "verified":
        raise Conflict("this number is already verified", field="number")
    if int(item.sends) >= MAX_SENDS:
        raise TooManyAttempts("too many codes were sent to this number; remove it and add it again later",
                              retry_after=CODE_MINUTES * 60)
    raise TooManyAttempts("a code was sent moments ago; wait before asking for another",
                          retry_after=max(1, int(item.last_sent) + RESEND_SECONDS - now))


def verify(m: Membership, raw_number: str, code: str) -> dict:
    """Checks the code entered for ``raw_number``; a right one verifies the number."""
    number = parse(raw_number)
    item = _get(m.workspace_id, number)
    if item is None:
        raise NotFound("no code was sent to this number; add it first")
    if item.status == "verified":
        return view(item)
    now = int(time.time())
    if int(item.attempts) >= MAX_ATTEMPTS:
        raise TooManyAttempts("too many wrong codes; ask for a new code",
                              retry_after=max(1, int(item.last_sent) + RESEND_SECONDS - now))
    if now >= int(item.code_expires):
        raise ValidationFailed("the code expired; ask for a new one", field="code")
    seen = item.code_hash
    try:  # the attempt is counted first, atomically, against the very code that was read
        with transaction() as t:
            t.update(item, actions=[SmsItem.attempts.add(1)],
                     condition=(SmsItem.status == "pending") & (SmsItem.code_hash == seen)
                     & (SmsItem.attempts < MAX_ATTEMPTS))
    except TransactWriteError as e:
        if not any(cancelled_by_condition(e)):
            raise
        if is_verified(m.workspace_id, number):  # a concurrent request entered the right code
            return view(_get(m.workspace_id, number) or item)
        raise Conflict("a new code was sent or too many were tried meanwhile; try again") from None
    if not hmac.compare_digest(_code_hash(m.workspace_id, number, code.strip()), seen or ""):
        left = MAX_ATTEMPTS - int(item.attempts) - 1
        raise ValidationFailed(f"wrong code ({left} attempts left)", field="code", details={"attempts_left": left})
    try:
        with transaction() as t:
            t.update(item, actions=[SmsItem.status.set("verified"), SmsItem.verified_at.set(datetime.now(UTC)),
                                    SmsItem.code_hash.remove(), SmsItem.sends.set(0)],
                     condition=SmsItem.code_hash == seen)
    except TransactWriteError as e:
        if not any(cancelled_by_condition(e)):
            raise
        if not is_verified(m.workspace_id, number):  # a concurrent right answer verified it: fine
            raise Conflict("a new code was sent meanwhile; enter that one") from None
    log.info("number %s verified in %s", sms.mask(number), m.workspace_id)
    return view(_get(m.workspace_id, number) or item)


def remove(m: Membership, raw_number: str) -> None:
    raw = unquote(raw_number).strip()  # the path may carry "%2B1415...", "+1415..." or "1415..."
    number = parse("+" + raw if raw[:1].isdigit() else raw)
    try:
        SmsItem(m.workspace_id, number_marker(number)).delete(condition=SmsItem.marker.exists())
    except DeleteError as e:
        if is_condition_failure(e):
            raise NotFound("this number is not in the workspace") from None
        raise


def channel(workspace_id: str, spec: dict, where: str, channel_id: str) -> dict:
    """The public part of an alert's ``sms`` channel (``{"number"}``: a verified number)."""
    if spec.get("url") or spec.get("to"):
        raise ValidationFailed("an sms channel takes a number, not a url or to", field=f"{where}.number")
    number = parse(spec.get("number") or "", field=f"{where}.number")
    if not is_verified(workspace_id, number):
        raise ValidationFailed("verify this number first (POST /api/workspaces/{workspace_id}/sms/numbers)",
                               field=f"{where}.number")
    return {"channel_id": channel_id, "type": "sms", "number": number}
