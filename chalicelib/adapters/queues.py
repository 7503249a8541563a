"""SQS messages between the API, the scheduler, the sync worker and the alert evaluator."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from chalicelib import aws, config

log = logging.getLogger("costpilot.queues")

SYNC = "sync"
ALERTS = "alerts"


def queue_name(logical: str) -> str:
    """Physical name of a queue declared in infra/resources.json (also used by the SQS decorators)."""
    return config.resource_name(logical)


@lru_cache(maxsize=8)
def _url(logical: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=queue_name(logical))["QueueUrl"]


def reset() -> None:
    _url.cache_clear()


def send(logical: str, message: dict, *, group_delay_seconds: int = 0) -> None:
    aws.client("sqs").send_message(QueueUrl=_url(logical), MessageBody=json.dumps(message, sort_keys=True),
                                   DelaySeconds=group_delay_seconds)


def send_many(logical: str, messages: list[dict]) -> int:
    """Sends in batches of ten; raises if any entry failed (the caller's run is then retried)."""
    sqs = aws.client("sqs")
    for start in range(0, len(messages), 10):
        batch = messages[start:start + 10]
        result: Any = sqs.send_message_batch(QueueUrl=_url(logical), Entries=[
            {"Id": str(i), "MessageBody": json.dumps(m, sort_keys=True)} for i, m in enumerate(batch)])
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} messages to {logical} were not accepted")
    return len(messages)


def extend_visibility(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    """Pushes a received message's next receive out by ``seconds`` (best effort: the queue's own
    visibility timeout still brings it back)."""
    try:
        url = aws.client("sqs").get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        aws.client("sqs").change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle,
                                                    VisibilityTimeout=seconds)
    except Exception:  # noqa: BLE001 - the visibility timeout retries it anyway
        log.warning("could not push out the next receive of a message on %s", queue_arn)
