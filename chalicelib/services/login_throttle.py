"""Login throttling by client and account together (counters in DynamoDB, charged atomically).

Each attempt is charged before the password is checked, by a conditional ADD that fails once the
window's limit is reached, so concurrent guesses cannot slip past the count:

- the pair (this client, this email): ``login_max_failures`` per window. Only that pair is locked:
  the owner on another client logs in as usual, so a stranger cannot lock the owner out.
- the client (this address, any email): ``login_max_client_failures`` per window, so one client
  cannot spray guesses over many accounts.

A successful login gives its charges back (the pair is cleared, the client's charge returned), so
the counters count failures. Known and unknown emails are charged alike, and each guess that is let
through costs one full argon2id verification (accounts.login): a guess stays expensive either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib import config
from chalicelib.domain import identity
from chalicelib.errors import TooManyAttempts
from chalicelib.store.base import is_condition_failure
from chalicelib.store.login_throttle import LoginAttempts

THROTTLED = "too many failed logins; try again later"


def charge(client: str, email: str, now: int) -> identity.ThrottleWindow:
    """Charges one attempt to the pair and the client; ``TooManyAttempts`` when either is spent."""
    window = identity.throttle_window(client, email, now, config.login_lockout_seconds())
    _charge(window.pair_key, config.login_max_failures(), window, now)
    _charge(window.client_key, config.login_max_client_failures(), window, now)
    return window


def succeeded(window: identity.ThrottleWindow) -> None:
    """The password was right: forget the pair's failures and return the client's charge."""
    LoginAttempts(window.pair_key).delete()
    try:
        LoginAttempts(window.client_key).update(actions=[LoginAttempts.attempts.add(-1)],
                                                condition=LoginAttempts.attempts > 0)
    except UpdateError as e:
        if not is_condition_failure(e):
            raise


def _charge(key: str, limit: int, window: identity.ThrottleWindow, now: int) -> None:
    try:
        LoginAttempts(key).update(
            actions=[LoginAttempts.attempts.add(1),
                     LoginAttempts.expires_at.set(datetime.fromtimestamp(window.expires_at, UTC))],
            condition=LoginAttempts.attempts.does_not_exist() | (LoginAttempts.attempts < limit),
        )
    except UpdateError as e:
        if is_condition_failure(e):
            raise TooManyAttempts(THROTTLED, retry_after=max(1, window.expires_at - now)) from None
        raise
