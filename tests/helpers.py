"""Test helpers: a thin JSON wrapper over chalice's test client, and user factories."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from devstack import outbox

PASSWORD = "correct horse battery staple"


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class TestUser:
    email: str
    token: str
    user_id: str
    workspace_id: str

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, *, json_body: Any = None, body: bytes | str | None = None,
             token: str | None = None, headers: dict | None = None) -> Reply:
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body)
        r = self.client.http.request(method, path, headers=h, body=body or b"")
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.body)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.call("POST", path, json_body=json_body, **kw)

    def patch(self, path, json_body=None, **kw):
        return self.call("PATCH", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def verify_email(self, email: str) -> None:
        """Follows the sign-up's verification link (from the outbox), then forgets that email."""
        mail = link_email(email, "Verify your email")
        r = self.post("/api/auth/verify-email", {"token": link_token(mail)})
        assert r.status == 200, r.body
        outbox.forget(mail["id"])

    def new_user(self, prefix: str = "user") -> TestUser:
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        r = self.post("/api/auth/signup", {"email": email, "password": PASSWORD})
        assert r.status == 201, r.body
        signup = r.json
        self.verify_email(email)
        r = self.post("/api/auth/login", {"email": email, "password": PASSWORD})
        assert r.status == 200, r.body
        return TestUser(email, r.json["token"], signup["user_id"], signup["workspace_id"])


def link_email(address: str, subject_starts: str) -> dict:
    """The newest email to ``address`` whose subject starts so (verification, reset, invitation)."""
    found = [m for m in outbox.messages(to=address) if m["subject"].startswith(subject_starts)]
    assert found, f"no email {subject_starts!r} to {address}"
    return found[-1]


def link_token(mail: dict) -> str:
    match = re.search(r"#token=([A-Za-z0-9_-]+)", mail["text"])
    assert match, mail["text"]
    return match.group(1)


def deliver_queue(client, function_name: str, logical_queue: str, *, max_rounds: int = 10) -> list[dict]:
    """Plays Lambda's SQS trigger: receives what is on the moto queue, invokes the app's real
    handler through chalice's test client, deletes what succeeded. Returns the handler payloads."""
    import boto3

    from chalicelib.adapters.queues import queue_name

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=queue_name(logical_queue))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    payloads = []
    for _ in range(max_rounds):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                              "eventSourceARN": arn, "awsRegion": "us-east-1"} for m in got]}
        payload = client.lambda_.invoke(function_name, event).payload
        payloads.append(payload)
        failed = {f["itemIdentifier"] for f in (payload or {}).get("batchItemFailures", [])}
        for m in got:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        if failed:
            break
    return payloads


def purge_queue(logical_queue: str) -> None:
    import boto3

    from chalicelib.adapters.queues import queue_name

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=queue_name(logical_queue))["QueueUrl"]
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
