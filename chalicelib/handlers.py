"""Bodies of the non-HTTP Lambda handlers, kept out of app.py so it only wires.

The services are named through ``lazy`` (as the routes do): each Lambda imports only what its
handler runs, and the API's cold start imports none of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.lazy import lazy

alert_delivery = lazy("chalicelib.services.alert_delivery")
alert_eval = lazy("chalicelib.services.alert_eval")
alert_queue = lazy("chalicelib.services.alert_queue")
alert_store = lazy("chalicelib.store.alerts")
billing_reconcile = lazy("chalicelib.services.billing_reconcile")
digest = lazy("chalicelib.services.digest")
sync = lazy("chalicelib.services.sync")
workspace_purge = lazy("chalicelib.services.workspace_purge")


def scheduled_sync(event) -> dict:
    return {"enqueued": sync.enqueue_due()}


def sync_worker(event) -> dict:
    return sync.handle_messages(event)


def alert_evaluator(event) -> dict:
    return alert_eval.handle_messages(event)


def alert_delivery_worker(event) -> dict:
    return alert_delivery.handle_retries(event)


def alert_sweep(event, now: datetime | None = None) -> dict:
    """Every 5 minutes: queue an evaluation of every workspace with an active rule (periods roll
    over and connections fail without new usage) and send the digests that are due."""
    now = now or datetime.now(UTC)
    workspaces, digests = alert_store.active_everywhere()
    queued = alert_queue.queue_sweep(workspaces, now)
    sent = sum(1 for r in digests if digest.send_if_due(r, now))
    return {"evaluations": queued, "digests": sent}


def billing_reconciler(event) -> dict:
    """Pauses/resumes what a plan covers when it changes with time alone (period end, grace end);
    continues the purge of deleted workspaces too large for their delete request."""
    return {"reconciled": billing_reconcile.reconcile_all(), "purged": workspace_purge.purge_pending()}
