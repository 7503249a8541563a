"""Forgotten and changed passwords.

``request`` answers the same whether or not the address has an account (no enumeration) and is
rate-limited per address and client (services.mail_throttle) whether or not it has one; only an
account's address gets the email: a single-use link that expires. ``confirm`` sets the new
password with that link; ``change`` needs the current password (throttled like a login). Either
way every session of the account ends (services.sessions_list): whoever held one must log in again.
"""

from __future__ import annotations

import logging
import time

from pynamodb.exceptions import DoesNotExist

from chalicelib import config
from chalicelib.domain import identity
from chalicelib.errors import ValidationFailed
from chalicelib.services import account_links, account_mail, login_throttle, mail_throttle, passwords, sessions_list
from chalicelib.store.identity import User

log = logging.getLogger("costpilot.password_reset")

TTL_MINUTES = 60
PAGE = "/app/reset-password"
ANSWER = "if an account has this address, an email with a link to reset its password is on its way"


def _email(raw: str) -> str:
    try:
        return identity.normalize_email(raw)
    except ValueError as e:
        raise ValidationFailed(str(e), field="email") from e


def _check_password(password: str, field: str) -> None:
    problem = identity.password_problem(password, passwords.MIN_LENGTH, passwords.MAX_LENGTH)
    if problem:
        raise ValidationFailed(f"password {problem}", field=field)


def request(raw_email: str, client: str | None, now: float | None = None) -> dict:
    email = _email(raw_email)
    mail_throttle.charge(account_links.RESET_PASSWORD, email, client, int(now or time.time()))
    try:
        User.get(email, consistent_read=True)
    except DoesNotExist:
        return {"message": ANSWER}
    secret, _ = account_links.issue(account_links.RESET_PASSWORD, email, TTL_MINUTES * 60, now=now)
    account_mail.password_reset(email, account_links.url(PAGE, secret, config.public_url()), TTL_MINUTES)
    return {"message": ANSWER}


def _set_password(user: User, password: str) -> int:
    # The reset link was sent to the address, so using it proves the address too.
    actions = [User.password_hash.set(passwords.hash_password(password))]
    if user.email_verified is False:
        actions.append(User.email_verified.set(True))
    user.update(actions=actions)
    return sessions_list.end_all(user.user_id)


def confirm(secret: str, password: str, now: float | None = None) -> dict:
    """Sets the password with a reset link (used up); every session ends."""
    _check_password(password, "password")
    link = account_links.redeem(account_links.RESET_PASSWORD, secret, now=now)
    try:
        user = User.get(link.email, consistent_read=True)
    except DoesNotExist:
        raise ValidationFailed(account_links.INVALID, field="token") from None
    ended = _set_password(user, password)
    log.info("password of %s reset; %d sessions ended", user.user_id, ended)
    return {"email": user.email, "sessions_ended": ended}


def change(email: str, current: str, new: str, client: str | None, now: float | None = None) -> dict:
    """The signed-in user changes their password (the current one required); every session ends."""
    _check_password(new, "new_password")
    window = login_throttle.charge(client or "unknown", email, int(now or time.time()))
    user = User.get(email, consistent_read=True)
    if not passwords.verify_password(user.password_hash, current):
        raise ValidationFailed("the current password is wrong", field="current_password")
    login_throttle.succeeded(window)
    ended = _set_password(user, new)
    log.info("password of %s changed; %d sessions ended", user.user_id, ended)
    return {"email": user.email, "sessions_ended": ended}
