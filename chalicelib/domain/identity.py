"""Pure rules for accounts: ids, email normalisation, password policy, login throttling."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass


def new_id(prefix: str) -> str:
    """A new random id of a user, workspace, connection or alert (``ws_…``, ``al_…``)."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


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


@dataclass(frozen=True)
class ThrottleWindow:
    """The counters one login attempt is charged to, in the fixed window holding ``now``."""

    pair_key: str  # this client guessing this account: locks only that pair
    client_key: str  # this client guessing any account: stops one client spraying many
    expires_at: int  # end of the window (unix seconds); the counters reset then


def throttle_window(client: str, email: str, now: int, window_seconds: int) -> ThrottleWindow:
    """Keys are digests (no address or email stored in the clear) of the pair, the client and the
    window's index, so a new window starts new counters and the old ones expire by TTL. Whether the
    email has an account plays no part: known and unknown emails are throttled alike."""
    index = now // window_seconds

    def key(kind: str, *parts: str) -> str:
        digest = hashlib.sha256("\x00".join((kind, *parts)).encode("utf-8")).hexdigest()[:40]
        return f"{kind}#{digest}#{index}"

    return ThrottleWindow(key("pair", client, email), key("client", client), (index + 1) * window_seconds)
