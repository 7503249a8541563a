"""One's sessions (one per login: cookie sessions and login bearer tokens): list them, see when each
was last used and from which browser, end one, end them all. Personal API tokens and ingest keys
are not sessions and are not touched here.

A session is named in the API by ``ref`` (a digest of its id), never by the id inside its token.
``last_seen_at`` is written at most every ``SEEN_EVERY_SECONDS`` per session, so authenticating a
request costs no write most of the time. Ending all sessions reads them through the ``by-user``
index (eventually consistent): a login finishing in the same instant may survive, never an older one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.errors import NotFound
from chalicelib.store.base import is_condition_failure
from chalicelib.store.identity import Session

log = logging.getLogger("costpilot.sessions")

SEEN_EVERY_SECONDS = 300
USER_AGENT_MAX = 300


def ref(session_id: str) -> str:
    return hashlib.sha256(b"session:" + session_id.encode()).hexdigest()[:20]


def clean_user_agent(raw: str | None) -> str | None:
    text = "".join(ch for ch in (raw or "") if ch.isprintable()).strip()
    return text[:USER_AGENT_MAX] or None


def seen(session: Session, now: float | None = None) -> None:
    """Notes that ``session`` was used now (at most every SEEN_EVERY_SECONDS)."""
    now_dt = datetime.fromtimestamp(int(now or time.time()), UTC)
    last = session.last_seen_at or session.created_at
    if last and (now_dt - last).total_seconds() < SEEN_EVERY_SECONDS:
        return
    try:
        session.update(actions=[Session.last_seen_at.set(now_dt)], condition=Session.session_id.exists())
    except UpdateError as e:
        if not is_condition_failure(e):
            raise


def list_sessions(user_id: str, current_session_id: str, now: float | None = None) -> list[dict]:
    now = now or time.time()
    out = []
    for s in Session.by_user.query(user_id):
        if s.expires_at.timestamp() <= now:
            continue
        out.append({"ref": ref(s.session_id), "created_at": s.created_at.isoformat(),
                    "last_seen_at": (s.last_seen_at or s.created_at).isoformat(),
                    "expires_at": s.expires_at.isoformat(), "user_agent": s.user_agent,
                    "current": s.session_id == current_session_id})
    return sorted(out, key=lambda x: x["last_seen_at"], reverse=True)


def revoke(user_id: str, session_ref: str) -> None:
    """Ends one of the user's sessions (``NotFound`` for any other ref)."""
    for s in Session.by_user.query(user_id):
        if ref(s.session_id) == session_ref:
            _delete(s)
            return
    raise NotFound("no such session", field="ref")


def end_all(user_id: str) -> int:
    """Ends every session of the user (log out everywhere; a password change)."""
    count = 0
    for s in Session.by_user.query(user_id):
        _delete(s)
        count += 1
    log.info("ended %d sessions of %s", count, user_id)
    return count


def _delete(s: Session) -> None:
    try:
        s.delete(condition=Session.user_id == s.user_id)
    except DeleteError as e:
        if not is_condition_failure(e):
            raise
