"""Tables are declared once, in infra/resources.json; the models must agree with it, and the
local provisioning must create exactly what it declares (TTL and PITR included)."""

from __future__ import annotations

import boto3

from chalicelib.store import (
    account_links,
    alerts,
    billing,
    connections,
    identity,
    ingest_keys,
    key_actions,
    login_throttle,
    sms,
)
from devstack.provision import load_template

MODELS = [identity.User, identity.Session, identity.Workspace, identity.Membership, connections.Connection,
          ingest_keys.IngestKey, billing.BillingAccount, billing.ProcessedEvent, alerts.AlertRule, alerts.Firing,
          alerts.Delivery, alerts.AlertMarker, login_throttle.LoginAttempts, key_actions.KeyAction,
          account_links.AccountLink, sms.SmsItem]


def _declared_tables():
    return {
        r["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", "test"): r["Properties"]
        for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }


def test_every_model_matches_its_declared_table(aws):
    declared = _declared_tables()
    for model in MODELS:
        props = declared[model.Meta.table_name]
        keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
        model_keys = {model._hash_keyname: "HASH"}
        if model._range_keyname:
            model_keys[model._range_keyname] = "RANGE"
        assert keys == model_keys, model.__name__
        declared_gsis = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
        assert declared_gsis == set(model._indexes), model.__name__


def test_provisioned_resources_are_what_is_declared(aws):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    declared = _declared_tables()
    assert set(declared) <= set(ddb.list_tables()["TableNames"])
    for name, props in declared.items():
        pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        if "TimeToLiveSpecification" in props:
            ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queues = sqs.list_queues()["QueueUrls"]
    for logical, r in load_template()["Resources"].items():
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]:
            queue_name = r["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", "test")
            url = next(u for u in queues if u.endswith(queue_name))
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert "deadLetterTargetArn" in attrs["RedrivePolicy"], logical
