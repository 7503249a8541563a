"""Counted plan limits, enforced by DynamoDB rather than by counting first.

Each counted thing of a workspace (members, connections, active alert rules, live ingest keys)
has a counter on the workspace item. Whatever creates, activates, removes or pauses one does it
in one transaction with the counter's ``ADD``, under a condition: ``count <= allowed - adding``
when adding, ``count >= removing`` when removing. N concurrent creates therefore store exactly
what the plan allows, and a counter never goes below zero.

A counter that is missing (a workspace from before counters) or would go negative (drift: a
repair, a bug) is rebuilt from the items it counts, under a condition on the value it replaces,
and the write is tried again. While a counter is missing every counted write fails its condition,
so the rebuild cannot race a create. ``rebuild`` is also the repair command's tool.

Events per month are counted by the usage store (``store.usage``), in the ingest's transaction.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib.domain import plans
from chalicelib.domain.plans import Limit
from chalicelib.errors import NotFound
from chalicelib.services import plan_limits
from chalicelib.store.alerts import rules
from chalicelib.store.base import cancelled_by_condition, is_condition_failure, transaction
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership, Workspace
from chalicelib.store.ingest_keys import IngestKey

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

log = logging.getLogger("costpilot.counters")

MAX_ATTEMPTS = 8


def _members(workspace_id: str) -> int:
    return Membership.count(workspace_id, consistent_read=True)


def _connections(workspace_id: str) -> int:
    return Connection.count(workspace_id, consistent_read=True)


def _active_alert_rules(workspace_id: str) -> int:
    return len(rules(workspace_id, active_only=True))


def _live_ingest_keys(workspace_id: str) -> int:
    return sum(1 for k in IngestKey.by_workspace.query(workspace_id) if k.revoked_at is None)


@dataclass(frozen=True)
class Counter:
    limit: Limit
    attribute: str  # on the workspace item
    count: Callable[[str], int]  # the truth, from the items counted


COUNTERS: dict[Limit, Counter] = {c.limit: c for c in (
    Counter(Limit.MEMBERS, "member_count", _members),
    Counter(Limit.CONNECTIONS, "connection_count", _connections),
    Counter(Limit.ALERT_RULES, "active_alert_rule_count", _active_alert_rules),
    Counter(Limit.INGEST_KEYS, "live_ingest_key_count", _live_ingest_keys),
)}


def _attr(limit: Limit) -> Any:
    return getattr(Workspace, COUNTERS[limit].attribute)


def _load(workspace_id: str) -> Workspace:
    try:
        workspace = Workspace.get(workspace_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("workspace not found") from None
    if workspace.deleted_at is not None:
        raise NotFound("workspace not found")
    return workspace


def change(workspace_id: str, limit: Limit, delta: int, writes: Callable[[TransactWrite], None], *,
           enforce: bool = True, actions: list | None = None, condition: Any = None) -> None:
    """Runs ``writes`` (the items created/removed) in one transaction with the counter's change.

    ``delta > 0`` with ``enforce`` checks the plan in force (``PlanLimitExceeded`` when it would
    go past it); ``actions``/``condition`` are extra ones on the workspace item (a transaction
    names each item once). A failed condition of the caller's own items is re-raised as the
    ``TransactWriteError`` for the caller to explain.
    """
    attr = _attr(limit)
    for attempt in range(MAX_ATTEMPTS):
        plan = plan_limits.current_plan(workspace_id) if delta > 0 and enforce else None
        guard = Workspace.workspace_id.exists() & Workspace.deleted_at.does_not_exist()
        if plan is not None:
            guard &= attr <= plan.limit(limit) - delta
        elif delta < 0:
            guard &= attr >= -delta
        else:
            guard &= attr.exists()
        if condition is not None:
            guard &= condition
        try:
            with transaction() as t:
                writes(t)
                t.update(Workspace(workspace_id), actions=[attr.add(delta), *(actions or [])], condition=guard)
            return
        except TransactWriteError as e:
            if _conflict(e):
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # a concurrent transaction: again
                continue
            failed = cancelled_by_condition(e)
            if not any(failed):
                raise
            if any(failed[:-1]):
                raise  # the caller's own item was not as expected: the caller explains
            # PynamoDB sends updates last, and the workspace's is the last update: its guard failed.
            value = getattr(_load(workspace_id), COUNTERS[limit].attribute)
            if value is None or value + delta < 0:
                rebuild(workspace_id, limit, seen=value)
            elif plan is not None and value + delta > plan.limit(limit):
                plans.check_limit(plan, limit, int(value), delta)  # raises PlanLimitExceeded
            elif condition is not None:
                raise  # the counter is fine, so the caller's condition on the workspace failed
            # else the counter moved between our write and this read: try again
    raise RuntimeError(f"the {limit.value} counter of {workspace_id} kept changing")


def _conflict(error: Exception) -> bool:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(r and r.code == "TransactionConflict" for r in reasons) and not any(cancelled_by_condition(error))


def rebuild(workspace_id: str, limit: Limit, *, seen: Any = None) -> int:
    """Sets the counter to what its items say, unless it changed from ``seen`` meanwhile."""
    counter = COUNTERS[limit]
    attr = _attr(limit)
    actual = counter.count(workspace_id)
    condition = attr.does_not_exist() if seen is None else attr == seen
    try:
        Workspace(workspace_id).update(actions=[attr.set(actual)],
                                       condition=Workspace.workspace_id.exists() & condition)
    except UpdateError as e:
        if not is_condition_failure(e):
            raise
        return actual  # someone else rebuilt or changed it: theirs stands
    if seen is not None:
        log.warning("workspace %s: %s counter was %s, rebuilt to %d", workspace_id, limit.value, seen, actual)
    return actual


def rebuild_all(workspace_id: str) -> dict[str, int]:
    """Recounts every counter from its items (a repair, with writers of the workspace paused)."""
    _load(workspace_id)
    out = {}
    for limit, counter in COUNTERS.items():
        actual = counter.count(workspace_id)
        Workspace(workspace_id).update(actions=[_attr(limit).set(actual)], condition=Workspace.workspace_id.exists())
        out[limit.value] = actual
    return out


def initial() -> dict[str, int]:
    """Counter values of a new workspace with its creator as the one member."""
    return {c.attribute: (1 if limit is Limit.MEMBERS else 0) for limit, c in COUNTERS.items()}
