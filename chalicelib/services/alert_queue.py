"""Asking for an evaluation of a workspace's alerts: coalesced, one message per window.

``usage_changed`` is the one entry point for new usage (a push, a sync that changed days);
``connection_rejected`` asks for one when a provider rejected a connection's key, so connection
alerts fire at once (syncs failing for a while are caught by the sweep). Both send nothing for a
workspace without active rules.

``request_evaluation``: a conditional write of the workspace's ``eval`` marker lets one message
through per coalescing window (SQS DelaySeconds), so a burst of pushes makes one evaluation. The
evaluator deletes the marker *before* it reads usage, so usage written after that queues a new
evaluation and nothing is missed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from chalicelib import config
from chalicelib.adapters import queues
from chalicelib.store.alerts import AlertMarker, has_active_rules
from chalicelib.store.base import is_condition_failure


def usage_changed(workspace_id: str, source: str) -> None:
    """New usage was stored for the workspace (``source``: ``push:<key>``, ``sync:<connection>``)."""
    if has_active_rules(workspace_id):
        request_evaluation(workspace_id, source)


def connection_rejected(workspace_id: str, connection_id: str) -> None:
    """A provider rejected the connection's key (or it cannot be read): no usage is new, but its
    connection alerts should fire now."""
    if has_active_rules(workspace_id):
        request_evaluation(workspace_id, f"sync-failure:{connection_id}")


def request_evaluation(workspace_id: str, source: str, *, now: float | None = None) -> bool:
    """Queues one evaluation of the workspace unless one is already queued. Returns True if sent."""
    now = int(now or time.time())
    delay = config.alert_coalesce_seconds()
    # The marker lapses on its own, so a lost message cannot block evaluations for long.
    until = now + delay + 60
    marker = AlertMarker(workspace_id, "eval", until=until, expires_at=datetime.fromtimestamp(until + 3600, UTC))
    try:
        marker.save(condition=AlertMarker.marker.does_not_exist() | (AlertMarker.until < now))
    except PutError as e:
        if is_condition_failure(e):
            return False
        raise
    try:
        queues.send(queues.ALERTS, {"workspace_id": workspace_id, "source": source, "at": now},
                    group_delay_seconds=delay)
    except Exception:
        marker.delete()
        raise
    return True


def queue_sweep(workspace_ids: Iterable[str], now: datetime) -> int:
    """The scheduled sweep's evaluations (periods roll over and connections fail without usage);
    answers how many were queued."""
    return queues.send_many(queues.ALERTS, [{"workspace_id": w, "source": "sweep", "at": int(now.timestamp())}
                                            for w in sorted(workspace_ids)])
