"""Bodies of the non-HTTP Lambda handlers, kept out of app.py so it only wires.

The three SQS handlers run through Powertools' batch processing (partial batch responses): each
record's body is parsed by its model (domain/queue_messages.py); a body that does not parse is
logged and dropped (a retry would fail the same way); a record whose work fails raises, and
Powertools reports its message id in ``batchItemFailures`` so SQS retries that message alone.
Powertools' batch utility (asyncio and every event class behind it) is imported inside
``_process`` so the API's cold start, which loads this module through app.py, does not pay for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from chalicelib import structured_log
from chalicelib.domain.queue_messages import DeliveryRetry, EvaluationRequest, Message, SyncRequest
from chalicelib.lazy import lazy

alert_delivery = lazy("chalicelib.services.alert_delivery")
alert_eval = lazy("chalicelib.services.alert_eval")
alert_queue = lazy("chalicelib.services.alert_queue")
alert_store = lazy("chalicelib.store.alerts")
billing_reconcile = lazy("chalicelib.services.billing_reconcile")
digest = lazy("chalicelib.services.digest")
key_actions = lazy("chalicelib.services.key_actions")
queues = lazy("chalicelib.adapters.queues")
sync = lazy("chalicelib.services.sync")
workspace_purge = lazy("chalicelib.services.workspace_purge")

log = logging.getLogger("costpilot.handlers")

M = TypeVar("M", bound=Message)


class RetryLater(Exception):
    """The record's work did not finish: report its message as a batch item failure."""


def _request_id(event: Any) -> str | None:
    return getattr(getattr(event, "context", None), "aws_request_id", None)


def _parse(model: type[M], body: str, message_id: str) -> M | None:
    try:
        return model.model_validate_json(body)
    except ValidationError:
        log.error("%s message %s is malformed; dropped", model.__name__, message_id)
        return None


def _process(event: Any, record_handler: Callable[[Any], None]) -> dict:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with structured_log.context(_request_id(event)):
        return process_partial_response(event=event.to_dict(), record_handler=record_handler, processor=processor)


def scheduled_sync(event: Any) -> dict:
    with structured_log.context(_request_id(event)):
        return {"enqueued": sync.enqueue_due()}


def sync_worker(event: Any) -> dict:
    """One connection per message; a failed sync (provider down, crash) is retried by SQS."""

    def handle(record: Any) -> None:
        message = _parse(SyncRequest, record.body, record.message_id)
        if message is None:
            return
        with structured_log.workspace(message.workspace_id):
            try:
                outcome = (key_actions.run(message.workspace_id, message.key_action) if message.key_action
                           else sync.sync_one(message.workspace_id, message.connection_id))
            except Exception:
                log.exception("sync of %s crashed (message %s)", message.connection_id, record.message_id)
                raise
            log.info("sync %s: %s (%d days changed, %d records) %s", message.connection_id, outcome.status,
                     outcome.days_changed, outcome.records, outcome.detail)
            if outcome.retry:
                raise RetryLater(f"sync {outcome.status}")

    return _process(event, handle)


def alert_evaluator(event: Any) -> dict:
    """One evaluation per workspace in the batch; when it fails, every message of that workspace is
    reported (the evaluation is retried whole)."""
    records = event.to_dict().get("Records", [])
    messages = {r["messageId"]: _parse(EvaluationRequest, r.get("body", ""), r["messageId"]) for r in records}
    sweeping = {m.workspace_id for m in messages.values() if m is not None and m.from_sweep}
    failed: dict[str, bool] = {}  # workspace id -> its evaluation failed

    def handle(record: Any) -> None:
        message = messages[record.message_id]
        if message is None:
            return
        workspace_id = message.workspace_id
        if workspace_id not in failed:
            with structured_log.workspace(workspace_id):
                try:
                    alert_eval.evaluate_queued(workspace_id, recover=workspace_id in sweeping)
                    failed[workspace_id] = False
                except Exception:
                    log.exception("evaluation of %s failed", workspace_id)
                    failed[workspace_id] = True
        if failed[workspace_id]:
            raise RetryLater(f"evaluation of {workspace_id} failed")

    return _process(event, handle)


def alert_delivery_worker(event: Any) -> dict:
    """Retries failed deliveries; a firing still failing is kept with its next receive pushed out by
    the backoff; on its last receive it is kept for the dead-letter queue (see alert_delivery)."""

    def handle(record: Any) -> None:
        message = _parse(DeliveryRetry, record.body, record.message_id)
        if message is None:
            return
        receives = int((record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        with structured_log.workspace(message.workspace_id):
            try:
                verdict = alert_delivery.retry(message.workspace_id, message.firing_key, receives)
            except Exception:
                log.exception("delivery of %s crashed", message.firing_key)
                raise
            if verdict.keep:
                if verdict.next_receive_seconds:
                    queues.extend_visibility(record.raw_event.get("eventSourceARN", ""),
                                             record.raw_event.get("receiptHandle", ""), verdict.next_receive_seconds)
                raise RetryLater(f"delivery of {message.firing_key} not settled")

    return _process(event, handle)


def alert_sweep(event: Any, now: datetime | None = None) -> dict:
    """Every 5 minutes: queue an evaluation of every workspace with an active rule (periods roll
    over and connections fail without new usage) and send the digests that are due."""
    now = now or datetime.now(UTC)
    with structured_log.context(_request_id(event)):
        workspaces, digests = alert_store.active_everywhere()
        queued = alert_queue.queue_sweep(workspaces, now)
        sent = sum(1 for r in digests if digest.send_if_due(r, now))
        return {"evaluations": queued, "digests": sent}


def billing_reconciler(event: Any) -> dict:
    """Pauses/resumes what a plan covers when it changes with time alone (period end, grace end);
    continues the purge of deleted workspaces too large for their delete request."""
    with structured_log.context(_request_id(event)):
        return {"reconciled": billing_reconcile.reconcile_all(), "purged": workspace_purge.purge_pending()}
