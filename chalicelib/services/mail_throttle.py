"""Rate limits on the emails anyone can make CostPilot send (verification, password reset,
invitations): counters in the login-throttle table, charged atomically before the send by a
conditional ADD (as services.login_throttle does for logins), per address and per client, in
fixed windows that expire by TTL. Known and unknown addresses are charged alike, so the limit
says nothing about whether an account exists.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib.errors import TooManyAttempts
from chalicelib.store.base import is_condition_failure
from chalicelib.store.login_throttle import LoginAttempts

WINDOW_SECONDS = 3600
PER_ADDRESS = 3  # emails of one kind to one address per window
PER_CLIENT = 20  # emails of any kind asked for by one client per window
THROTTLED = "too many emails asked for; try again later"


def _key(*parts: str, index: int) -> str:
    digest = hashlib.sha256("\x00".join(("mail", *parts)).encode("utf-8")).hexdigest()[:40]
    return f"mail#{digest}#{index}"


def charge(kind: str, email: str, client: str | None, now: int) -> None:
    """Counts one email of ``kind`` to ``email`` asked for by ``client``; ``TooManyAttempts`` when spent."""
    index = now // WINDOW_SECONDS
    expires = (index + 1) * WINDOW_SECONDS
    _charge(_key("address", kind, email, index=index), PER_ADDRESS, expires, now)
    _charge(_key("client", client or "unknown", index=index), PER_CLIENT, expires, now)


def _charge(key: str, limit: int, expires: int, now: int) -> None:
    try:
        LoginAttempts(key).update(
            actions=[LoginAttempts.attempts.add(1), LoginAttempts.expires_at.set(datetime.fromtimestamp(expires, UTC))],
            condition=LoginAttempts.attempts.does_not_exist() | (LoginAttempts.attempts < limit),
        )
    except UpdateError as e:
        if is_condition_failure(e):
            raise TooManyAttempts(THROTTLED, retry_after=max(1, expires - now)) from None
        raise
