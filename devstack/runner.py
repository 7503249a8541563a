"""Plays Lambda's part locally: fires the app's schedules and delivers SQS messages to its real
handlers, in the Lambda event formats, honouring partial batch failures.

A failed message is made visible again after a short backoff (5 s x receive count) instead of the
queue's deployed visibility timeout, so retries are seen within seconds on a laptop; the queue's
redrive policy still moves it to the dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

log = logging.getLogger("costpilot.devstack.runner")


def _sqs_event(messages: list[dict], queue_arn: str) -> dict:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for m in messages
        ]
    }


def _schedule_event(name: str) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{name}"],
        "detail": {},
    }


class LambdaContext:
    def __init__(self, name: str, timeout_s: int = 60):
        self.function_name = name
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Runner:
    """Background threads: one per SQS handler (long-polling) and one for all schedules."""

    def __init__(self, app_module: Any, sqs: Any, queue_name: Any, schedule_seconds: float):
        self.app_module = app_module
        self.sqs = sqs
        self.queue_name = queue_name  # callable: logical name from the decorator -> physical name
        self.schedule_seconds = schedule_seconds
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.deliveries = 0

    def start(self) -> None:
        from chalice.app import ScheduledEventConfig, SQSEventConfig

        schedules = []
        for source in self.app_module.app.event_sources:
            handler = getattr(self.app_module, source.name)
            if isinstance(source, SQSEventConfig):
                t = threading.Thread(target=self._poll, args=(source, handler), name=f"sqs-{source.name}", daemon=True)
                self.threads.append(t)
            elif isinstance(source, ScheduledEventConfig):
                schedules.append((source.name, handler))
        if schedules:
            self.threads.append(threading.Thread(target=self._tick, args=(schedules,), name="schedules", daemon=True))
        for t in self.threads:
            t.start()

    def stop(self, grace_seconds: float = 3.0) -> None:
        """Stops polling; handlers still running get a short grace, then are left to die with the
        process (daemon threads), as a Lambda can be cut off: every handler is safe to rerun."""
        import time as _time

        self.stopping.set()
        deadline = _time.monotonic() + grace_seconds
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - _time.monotonic()))

    def fire_schedules_now(self) -> None:
        from chalice.app import ScheduledEventConfig

        for source in self.app_module.app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                self._invoke(source.name, getattr(self.app_module, source.name), _schedule_event(source.name))

    def _tick(self, schedules: list) -> None:
        while not self.stopping.is_set():
            for name, handler in schedules:
                self._invoke(name, handler, _schedule_event(name))
            self.stopping.wait(self.schedule_seconds)

    def _invoke(self, name: str, handler: Any, event: dict) -> tuple[bool, Any]:
        try:
            return True, handler(event, LambdaContext(name))
        except Exception:
            log.exception("handler %s failed", name)
            return False, None

    def _poll(self, source: Any, handler: Any) -> None:
        url = self.sqs.get_queue_url(QueueName=self.queue_name(source.queue))["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while not self.stopping.is_set():
            try:
                got = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=min(source.batch_size, 10), WaitTimeSeconds=1,
                    AttributeNames=["All"], MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:
                if self.stopping.is_set():
                    return
                log.exception("receive from %s failed", source.queue)
                time.sleep(1)
                continue
            if not got:
                continue
            ok, result = self._invoke(source.name, handler, _sqs_event(got, arn))
            failed = self._failed_ids(result) if ok else {m["MessageId"] for m in got}
            for m in got:
                if m["MessageId"] in failed:
                    count = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                    self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                       VisibilityTimeout=min(5 * count, 60))
                else:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    self.deliveries += 1

    @staticmethod
    def _failed_ids(result: Any) -> set[str]:
        """Partial batch failures as Lambda reads them (ReportBatchItemFailures)."""
        if isinstance(result, dict) and "batchItemFailures" in result:
            return {f["itemIdentifier"] for f in result["batchItemFailures"]}
        return set()
