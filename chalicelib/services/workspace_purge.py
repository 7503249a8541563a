"""Deleting a workspace: its Stripe subscription is cancelled, and everything it owns is removed.

``delete_workspace`` first cancels what Stripe would keep billing (a Stripe failure answers 5xx
and deletes nothing), then marks the workspace deleted (``deleted_at``: from then on it is
unreachable and webhooks no longer find it), removes its memberships, and purges its data in
bounded passes. What one pass does not finish, the hourly job (``purge_pending``, run by the
billing reconciler) continues, so a large workspace is deleted as a job, not in one request.

Owned, per table of infra/resources.json: members, connections (sealed provider keys), ingest
keys (sealed signing secrets), alert rules (sealed channel URLs and secrets), firings and their
deliveries, alert markers, billing account and processed Stripe events, pending invitations,
usage records and rollups; the workspace item goes last. Users and sessions belong to people, not workspaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib import aws
from chalicelib.errors import NotFound
from chalicelib.services import billing_checkout
from chalicelib.store.account_links import AccountLink
from chalicelib.store.alerts import AlertMarker, AlertRule, Delivery, Firing, firing_id
from chalicelib.store.base import is_condition_failure
from chalicelib.store.billing import BillingAccount, ProcessedEvent
from chalicelib.store.connections import Connection
from chalicelib.store.identity import Membership, Workspace
from chalicelib.store.ingest_keys import IngestKey
from chalicelib.store.key_actions import KeyAction
from chalicelib.store.usage import records_table, rollups_table

log = logging.getLogger("costpilot.workspaces.purge")

PASS_ITEMS = 2_000  # deleted by one pass (a request, or one workspace in the hourly job)
SETTLE_SECONDS = 15 * 60  # longer than any handler that may still write for the workspace


def delete_workspace(workspace_id: str, *, budget: int = PASS_ITEMS) -> bool:
    """Cancels billing, makes the workspace unreachable, purges up to ``budget`` items now.
    True when all its data is gone (the mark itself goes on a later pass); else the hourly job
    finishes it."""
    billing_checkout.cancel_for_deletion(workspace_id)
    try:
        Workspace(workspace_id).update(actions=[Workspace.deleted_at.set(int(time.time()))],
                                       condition=Workspace.workspace_id.exists())
    except UpdateError as e:
        if is_condition_failure(e):
            raise NotFound("workspace not found") from None
        raise
    _delete_models(Membership, Membership.query(workspace_id), None)  # nobody reaches it from now on
    return purge(workspace_id, budget=budget) != "partial"


def purge(workspace_id: str, *, budget: int = PASS_ITEMS, now: float | None = None) -> str:
    """Deletes up to ``budget`` items of a deleted workspace: ``partial`` (more is left),
    ``settling`` (all data gone, the mark stays a while) or ``done``.

    The workspace item (the mark) goes only once ``SETTLE_SECONDS`` have passed since the delete:
    a sync or evaluation already running then (SQS visibility: 12 minutes) may still write, and
    the hourly pass removes what it wrote before the mark goes.
    """
    left = [budget]
    for step in _steps(workspace_id):
        if not step(left):
            return "partial"
    now = time.time() if now is None else now
    try:
        Workspace(workspace_id).delete(condition=Workspace.deleted_at <= int(now) - SETTLE_SECONDS)
    except DeleteError as e:
        if is_condition_failure(e):
            return "settling"  # the next pass looks again
        raise
    log.info("workspace %s purged", workspace_id)
    return "done"


def purge_pending(budget: int = PASS_ITEMS, now: float | None = None) -> int:
    """The hourly pass: continues every deleted workspace's purge; answers how many finished."""
    done = 0
    for w in Workspace.scan(Workspace.deleted_at.exists()):
        try:
            done += purge(w.workspace_id, budget=budget, now=now) == "done"
        except Exception:  # one workspace's failure must not stop the others
            log.exception("purging workspace %s failed", w.workspace_id)
    return done


# ---- the steps --------------------------------------------------------------------------------

Step = Callable[[list[int]], bool]


def _steps(workspace_id: str) -> list[Step]:
    def models(model: Any, rows: Callable[[], Iterable[Any]]) -> Step:
        return lambda left: _delete_models(model, rows(), left)

    return [
        models(Membership, lambda: Membership.query(workspace_id)),
        models(Connection, lambda: Connection.query(workspace_id)),
        models(IngestKey, lambda: IngestKey.by_workspace.query(workspace_id)),
        models(AlertRule, lambda: AlertRule.query(workspace_id)),
        lambda left: _delete_firings(workspace_id, Firing, left),
        models(AlertMarker, lambda: AlertMarker.query(workspace_id)),
        models(KeyAction, lambda: KeyAction.query(workspace_id)),
        models(ProcessedEvent, lambda: (ProcessedEvent(e.event_id) for e in
                                        ProcessedEvent.by_workspace.query(workspace_id))),
        models(BillingAccount, lambda: BillingAccount.query(workspace_id)),
        models(AccountLink, lambda: AccountLink.by_workspace.query(workspace_id)),  # pending invitations
        lambda left: _delete_keys(records_table(), workspace_id, left),
        lambda left: _delete_keys(rollups_table(), workspace_id, left),
    ]


def _delete_models(model: Any, rows: Iterable[Any], left: list[int] | None) -> bool:
    """Deletes rows (batch writes); False if the budget ran out first."""
    with model.batch_write() as batch:
        for row in rows:
            if left is not None:
                if left[0] <= 0:
                    return False
                left[0] -= 1
            batch.delete(row)
    return True


def _delete_firings(workspace_id: str, firing_model: Any, left: list[int]) -> bool:
    """Each firing's deliveries, then the firing (deliveries are found through their firing)."""
    for f in firing_model.query(workspace_id):
        if not _delete_models(Delivery, Delivery.query(firing_id(workspace_id, f.firing_key)), left):
            return False
        if not _delete_models(firing_model, [f], left):
            return False
    return True


def _delete_keys(table: str, workspace_id: str, left: list[int]) -> bool:
    """Every item of the workspace's partition of a pk/sk table (the usage tables)."""
    db = aws.client("dynamodb")
    keys = [{"pk": {"S": workspace_id}, "sk": item["sk"]} for item in _partition(table, workspace_id)]
    for i in range(0, len(keys), 25):
        if left[0] <= 0:
            return False
        wanted = keys[i:i + 25]
        page = wanted[:left[0]]
        left[0] -= len(page)
        request = {table: [{"DeleteRequest": {"Key": k}} for k in page]}
        while request:
            request = db.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
        if len(page) < len(wanted):
            return False
    return True


def _partition(table: str, workspace_id: str) -> Iterator[dict]:
    db = aws.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :pk",
                              "ExpressionAttributeValues": {":pk": {"S": workspace_id}}, "ProjectionExpression": "sk"}
    while True:
        page = db.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
