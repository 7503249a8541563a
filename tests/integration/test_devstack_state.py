"""The local stack's saved state, against moto in this process: what is captured from the emulated
AWS, written to JSON and restored into freshly provisioned backends is the same data, and a KMS
ciphertext sealed before opens after. Uses its own region, so the session's resources are untouched."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from devstack import state
from devstack.provision import provision

REGION = "eu-west-3"
STAGE = "statetest"


def _backends():
    from moto.dynamodb.models import dynamodb_backends
    from moto.kms.models import kms_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    return [b[state.ACCOUNT_ID][REGION] for b in (dynamodb_backends, kms_backends, sqs_backends, ses_backends)]


@pytest.fixture
def region(aws):
    session = boto3.session.Session(region_name=REGION)
    yield session, provision(session, {"Stage": STAGE})
    for backend in _backends():
        backend.reset()


def _table(resources: dict[str, str], session) -> str:
    names = session.client("dynamodb").list_tables()["TableNames"]
    return next(n for n in sorted(names) if STAGE in n)


def test_capture_restore_keeps_items_keys_messages_and_mail(region):
    session, resources = region
    ddb, kms, sqs, ses = (session.client(n) for n in ("dynamodb", "kms", "sqs", "ses"))
    table = _table(resources, session)
    schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    key = {k["AttributeName"]: {"S": f"key-{k['KeyType']}"} for k in schema}
    item = {**key, "blob": {"B": b"\x00\xffsealed"}, "n": {"N": "12.50"},
            "nested": {"M": {"list": {"L": [{"B": b"\x01"}, {"S": "x"}]}, "set": {"SS": ["a", "b"]}}}}
    ddb.put_item(TableName=table, Item=item)
    alias = next(a["AliasName"] for a in kms.list_aliases()["Aliases"] if STAGE in a["AliasName"])
    sealed = kms.encrypt(KeyId=alias, Plaintext=b"provider admin key", EncryptionContext={"c": "1"})
    key_id = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
    queue = next(u for u in sqs.list_queues()["QueueUrls"] if STAGE in u)
    sqs.send_message(QueueUrl=queue, MessageBody='{"job": 1}',
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "sync"}})
    sender = next(i for i in ses.list_identities()["Identities"] if "@" in i)
    ses.send_raw_email(Source=sender, Destinations=["a@example.com"],
                       RawMessage={"Data": b"Subject: hi\r\nFrom: " + sender.encode() + b"\r\n\r\nbody"})

    saved = json.loads(json.dumps(state.capture_aws(region=REGION)))  # what the file holds
    for backend in _backends():
        backend.reset()
    assert ddb.list_tables()["TableNames"] == []
    provision(session, {"Stage": STAGE})
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] != key_id  # a new key, until restored
    counts = state.restore_aws(saved, region=REGION)

    assert counts["keys"] == 1 and counts["messages"] == 1 and counts["emails"] == 1
    assert ddb.get_item(TableName=table, Key=key)["Item"] == item
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"c": "1"})
    assert opened["Plaintext"] == b"provider admin key"
    [message] = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == '{"job": 1}' and message["MessageAttributes"]["kind"]["StringValue"] == "sync"
    from moto.ses.models import ses_backends

    [mail] = ses_backends[state.ACCOUNT_ID][REGION].sent_messages
    assert mail.destinations == ["a@example.com"] and b"body" in (mail.raw_data if isinstance(mail.raw_data, bytes)
                                                                  else mail.raw_data.encode())
    assert json.loads(json.dumps(state.capture_aws(region=REGION)))["dynamodb"] == saved["dynamodb"]


def test_the_file_is_replaced_whole_and_an_unknown_format_is_refused(tmp_path):
    assert state.load(tmp_path) is None
    state.write(tmp_path, {"stack": {"a": 1}})
    state.write(tmp_path, {"stack": {"a": 2}})
    assert state.load(tmp_path)["stack"] == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == [state.FILE_NAME]  # no temporary file left
    (tmp_path / state.FILE_NAME).write_text(json.dumps({"format": state.FORMAT + 1}))
    with pytest.raises(state.StateError, match="format"):
        state.load(tmp_path)
    (tmp_path / state.FILE_NAME).write_text('{"format": 1, "stack": ')
    with pytest.raises(state.StateError, match="unreadable"):
        state.load(tmp_path)


def test_keeper_writes_only_when_something_changed(tmp_path):
    captures = []

    def capture():
        captures.append(1)
        return {"dynamodb": {"t": [len(captures)]}}

    part = {"n": 0}
    keeper = state.Keeper(tmp_path, {"part": lambda: dict(part)}, capture=capture)
    app = keeper.track(lambda environ, start_response: [b"ok"])
    assert keeper.save() is True and len(captures) == 1
    assert keeper.save() is False
    app({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"}, None)  # a read
    assert keeper.save() is False
    part["n"] = 1  # a fake changed: written, AWS not captured again
    assert keeper.save() is True and len(captures) == 1
    assert state.load(tmp_path)["part"] == {"n": 1}
    app({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, None)
    assert keeper.save() is True and len(captures) == 2
    app({}, None)  # no target (SES's query protocol): counted as a write
    assert keeper.save() is True and state.load(tmp_path)["dynamodb"] == {"t": [3]}


def test_the_fake_stripe_comes_back_with_its_subscriptions_events_and_clock():
    from werkzeug.test import Client

    from devstack import stripe_local

    def make():
        fake = stripe_local.make_fake("http://127.0.0.1:9", "whsec_kept")
        fake.deliver = lambda url, payload, headers: 200
        return fake

    fake = make()
    auth = {"Authorization": f"Bearer {fake.api_key}"}
    api = Client(fake)
    customer = api.post("/v1/customers", data={"email": "a@example.com"}, headers=auth).get_json()["id"]
    session = api.post("/v1/checkout/sessions", headers=auth, data={
        "mode": "subscription", "customer": customer, "success_url": "http://x/ok", "cancel_url": "http://x/no",
        "line_items[0][price]": "price_local_pro", "line_items[0][quantity]": "1"}).get_json()["id"]
    fake.complete_checkout(session)  # answers the success URL
    [sub] = fake.subscriptions
    fake.end_period(sub)

    saved = json.loads(json.dumps(state.capture_stripe(fake)))
    again = make()
    state.restore_stripe(again, saved)

    assert again.webhook_secret == "whsec_kept"
    assert again.subscriptions == fake.subscriptions and again.events == fake.events and again.events
    assert again.deliveries == fake.deliveries and again.now() == fake.now()
    got = Client(again).get(f"/v1/subscriptions/{sub}", headers=auth)
    assert got.status_code == 200 and got.get_json()["customer"] == customer


def test_one_stack_per_folder(tmp_path):
    held = state.hold(tmp_path)
    with pytest.raises(state.StateError, match=f"pid {os.getpid()}"):
        state.hold(tmp_path)
    held.close()
    state.hold(tmp_path).close()  # free again once the first let go
