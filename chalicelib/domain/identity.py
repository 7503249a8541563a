"""Pure rules for accounts: email normalisation, password policy, login throttling."""

from __future__ import annotations

import re
import unicodedata

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def normalize_email(raw: str) -> str:
    """One spelling per mailbox: NFKC, trimmed, lower-cased (providers treat case as equal)."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError("not a valid email address")
    return email


def password_problem(password: str, min_length: int, max_length: int) -> str | None:
    if len(password) < min_length:
        return f"must be at least {min_length} characters"
    if len(password) > max_length:
        return f"must be at most {max_length} characters"
    if password.strip() == "":
        return "must not be blank"
    return None


def after_failure(failed: int, last_failed_at: int, now: int, max_failures: int, lockout: int) -> tuple[int, int]:
    """(new failure count, locked_until) after one more failed login.

    Failures older than the lockout window are forgotten. Reaching ``max_failures`` locks the
    account for ``lockout`` seconds, doubling for each further failure after that (capped at a day).
    """
    count = failed + 1 if now - last_failed_at < lockout else 1
    if count < max_failures:
        return count, 0
    extra = min(count - max_failures, 6)
    return count, now + min(lockout * (2**extra), 86400)
