"""Bodies of the non-HTTP Lambda handlers, kept out of app.py so it only wires."""

from __future__ import annotations


def scheduled_sync(event) -> dict:
    from chalicelib.services import sync

    return {"enqueued": sync.enqueue_due()}


def sync_worker(event) -> dict:
    from chalicelib.services import sync

    return sync.handle_messages(event)


def alert_evaluator(event) -> dict:
    from chalicelib.services import alert_eval

    return alert_eval.handle_messages(event)


def alert_delivery_worker(event) -> dict:
    from chalicelib.services import alert_delivery

    return alert_delivery.handle_retries(event)


def alert_sweep(event) -> dict:
    from chalicelib.services import alert_eval

    return alert_eval.sweep()


def billing_reconciler(event) -> dict:
    """Pauses/resumes what a plan covers when it changes with time alone (period end, grace end);
    continues the purge of deleted workspaces too large for their delete request."""
    from chalicelib.services import billing, workspace_purge

    return {"reconciled": billing.reconcile_all(), "purged": workspace_purge.purge_pending()}
