"""Scheduled sync: the scheduler enqueues due connections; the worker syncs one connection.

First sync backfills ``config.backfill_days()``; later syncs fetch from the cursor and re-fetch
the restatement window. Each UTC day is stored whole (``usage.replace_sync_day``), so re-fetching
replaces values and never adds them. The cursor moves only after every day is stored. A rejected
key marks the connection ``error`` and stops retries until the key is replaced; other failures
end the run as failed and the message (or the next schedule) retries it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import config
from chalicelib.adapters import kms_secrets, queues
from chalicelib.domain.plans import Limit
from chalicelib.providers import registry
from chalicelib.providers.errors import AuthError, MalformedResponse, ProviderError
from chalicelib.services import alert_queue, plan_limits
from chalicelib.store import usage
from chalicelib.store.connections import Connection

log = logging.getLogger("costpilot.sync")


@dataclass(frozen=True)
class SyncOutcome:
    status: str  # synced | skipped | rejected | failed
    days_changed: int = 0
    records: int = 0
    detail: str = ""

    @property
    def retry(self) -> bool:
        return self.status == "failed"


def enqueue_due(now: float | None = None) -> int:
    """Claims each active connection whose interval has passed and enqueues one message for it.

    The claim (moving ``next_sync_at`` forward under a condition on its old value) makes
    overlapping scheduler runs enqueue a connection once.
    """
    now = int(now or time.time())
    messages = []
    for c in Connection.scan(Connection.status == "active"):
        if c.next_sync_at > now:
            continue
        # The plan's shortest interval wins over the connection's own (a downgrade slows syncs).
        interval = max(int(c.sync_interval_minutes),
                       plan_limits.current_plan(c.workspace_id).limit(Limit.MIN_SYNC_INTERVAL_MINUTES))
        try:
            c.update(actions=[Connection.next_sync_at.set(now + interval * 60)],
                     condition=Connection.next_sync_at == c.next_sync_at)
        except UpdateError:
            continue  # another scheduler run claimed it
        messages.append({"workspace_id": c.workspace_id, "connection_id": c.connection_id, "reason": "schedule"})
    return queues.send_many(queues.SYNC, messages)


def window(c: Connection, today: date) -> tuple[date, date]:
    """The days to fetch: [start, end) with end = tomorrow, so today's growing bucket is included."""
    end = today + timedelta(days=1)
    if not c.synced_through:
        return today - timedelta(days=config.backfill_days()), end
    cursor = date.fromisoformat(c.synced_through)
    return min(cursor, today - timedelta(days=config.restatement_days() - 1)), end


def sync_one(workspace_id: str, connection_id: str, *, now: datetime | None = None, client_options: dict | None = None,
             ) -> SyncOutcome:
    try:
        c = Connection.get(workspace_id, connection_id, consistent_read=True)
    except DoesNotExist:
        return SyncOutcome("skipped", detail="connection deleted")
    if c.status != "active":
        return SyncOutcome("skipped", detail=f"connection {c.status}")
    now = now or datetime.now(UTC)
    start, end = window(c, now.date())
    try:
        credentials = kms_secrets.open_secret(c.credentials, workspace_id, connection_id, c.provider)
        client = registry.make_client(c.provider, credentials, **(client_options or {}))
        records = client.fetch(workspace_id, connection_id, _midnight(start), _midnight(end))
    except AuthError as e:
        _record_failure(c, now, f"{c.provider} rejected the key: {e.message}", status="error")
        alert_queue.connection_rejected(workspace_id, connection_id)  # connection alerts, now
        return SyncOutcome("rejected", detail=e.message)
    except kms_secrets.SecretUnreadable as e:
        _record_failure(c, now, str(e), status="error")
        alert_queue.connection_rejected(workspace_id, connection_id)
        return SyncOutcome("rejected", detail=str(e))
    except MalformedResponse as e:
        log.error("sync %s/%s: malformed %s payload, nothing written: %s", workspace_id, connection_id,
                  c.provider, e.message)
        _record_failure(c, now, f"{c.provider} sent a payload we could not read; nothing was written")
        return SyncOutcome("failed", detail=e.message)
    except ProviderError as e:
        _record_failure(c, now, f"{c.provider} unavailable: {e.message}")
        return SyncOutcome("failed", detail=e.message)

    by_day: dict[str, list] = defaultdict(list)
    for record in records:
        by_day[record.day].append(record)
    changed = 0
    day = start
    while day < end:
        key = day.isoformat()
        if usage.replace_sync_day(workspace_id, connection_id, key, by_day.pop(key, [])):
            changed += 1
        day += timedelta(days=1)
    if by_day:
        log.warning("sync %s: %d records outside the window ignored", connection_id, sum(map(len, by_day.values())))
    # Only now that every day is stored does the cursor move (to today: it is re-fetched next time).
    c.update(actions=[
        Connection.synced_through.set(now.date().isoformat()),
        Connection.last_sync_at.set(now), Connection.last_success_at.set(now),
        Connection.last_error.remove(), Connection.failing_since.remove(),
    ])
    if changed:
        alert_queue.usage_changed(workspace_id, source=f"sync:{connection_id}")
    return SyncOutcome("synced", changed, len(records))


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _record_failure(c: Connection, now: datetime, message: str, status: str | None = None) -> None:
    actions = [Connection.last_sync_at.set(now), Connection.last_error.set(message[:500])]
    if c.failing_since is None:
        actions.append(Connection.failing_since.set(now))
    if status:
        actions.append(Connection.status.set(status))
    c.update(actions=actions)


