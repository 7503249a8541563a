"""Verifying the email address: a single-use link that expires, sent at sign-up (and again on
request, rate-limited); alert emails go only to verified addresses (``verified_emails`` is called
where alert deliveries resolve their recipients, services.alert_delivery).

Accounts from before verification existed carry no flag and count as verified; a new account is
``email_verified=False`` until its link is used (or it proves the address otherwise: a password
reset or an invitation, both links sent to it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import config
from chalicelib.errors import ValidationFailed
from chalicelib.services import account_links, account_mail, mail_throttle
from chalicelib.store.base import is_condition_failure
from chalicelib.store.identity import User

log = logging.getLogger("costpilot.email_verification")

TTL_HOURS = 48
PAGE = "/app/verify-email"


def is_verified(user: User) -> bool:
    return user.email_verified is not False


def send_link(email: str, now: float | None = None) -> bool:
    """Sends a new verification link to ``email`` (an account's normalised address)."""
    secret, _ = account_links.issue(account_links.VERIFY_EMAIL, email, TTL_HOURS * 3600, now=now)
    return account_mail.verification(email, account_links.url(PAGE, secret, config.public_url()), TTL_HOURS)


def resend(email: str, client: str | None, now: float | None = None) -> dict:
    """The signed-in user asks for a new link (rate-limited per address and client)."""
    user = User.get(email, consistent_read=True)
    if is_verified(user):
        return {"email": email, "email_verified": True, "sent": False}
    mail_throttle.charge(account_links.VERIFY_EMAIL, email, client, int(now or time.time()))
    return {"email": email, "email_verified": False, "sent": send_link(email, now)}


def status(email: str) -> dict:
    return {"email": email, "email_verified": is_verified(User.get(email, consistent_read=True))}


def verify(secret: str, now: float | None = None) -> dict:
    """Uses a verification link; the account's address is verified from now on."""
    link = account_links.redeem(account_links.VERIFY_EMAIL, secret, now=now)
    if not mark_verified(link.email):
        raise ValidationFailed(account_links.INVALID, field="token")
    return {"email": link.email, "email_verified": True}


def mark_verified(email: str) -> bool:
    """False if there is no such account."""
    try:
        User(email).update(actions=[User.email_verified.set(True)], condition=User.email.exists())
    except UpdateError as e:
        if is_condition_failure(e):
            return False
        raise
    return True


def verified_emails(emails: Iterable[str]) -> set[str]:
    """The addresses among ``emails`` (lower-case) whose account is verified; one batch read."""
    wanted = {e.lower() for e in emails}
    if not wanted:
        return set()
    out = set()
    try:
        for user in User.batch_get(sorted(wanted), consistent_read=True):
            if is_verified(user):
                out.add(user.email)
    except DoesNotExist:  # pragma: no cover - batch_get skips missing keys
        pass
    return out
