"""The template checks catch what they are for (small hand-made templates; no packaging)."""

from __future__ import annotations

import copy

import pytest

from infra import checks, template

QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {
    "QueueName": "q", "VisibilityTimeout": 360,
    "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}}}
DLQ = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q-dlq", "MessageRetentionPeriod": 1209600}}
TABLE = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
         "Properties": {"BillingMode": "PAY_PER_REQUEST",
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}}


def _role(statement: dict) -> dict:
    return {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
        {"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", **statement}]}}]}}}}


@pytest.mark.parametrize("statement", [
    {"Action": ["dynamodb:GetItem"], "Resource": "*"},
    {"Action": "sqs:SendMessage", "Resource": {"Fn::Sub": "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:*"}},
    {"Action": ["kms:*"], "Resource": {"Fn::GetAtt": ["Key", "Arn"]}},
    {"Action": ["ses:SendRawEmail"], "Resource": ["arn:aws:ses:us-east-1:1:identity/a@b.c", "*"]},
    {"Action": "*", "Resource": "*"},
    {"Action": ["dynamodb:Query"], "NotResource": "arn:aws:dynamodb:us-east-1:1:table/x"},
])
def test_wildcard_on_data_action_is_caught(statement):
    assert checks.wildcard_data_access(_role(statement))


def test_scoped_statements_and_non_data_wildcards_pass():
    assert not checks.wildcard_data_access(_role({"Action": ["dynamodb:Query"], "Resource": [
        {"Fn::GetAtt": ["T", "Arn"]}, {"Fn::Sub": "${T.Arn}/index/by-user"}]}))
    assert not checks.wildcard_data_access(_role({"Action": ["logs:PutLogEvents"], "Resource": "*"}))


def test_queue_without_dead_letter_queue_is_caught():
    ok = {"Resources": {"Q": QUEUE, "Dlq": DLQ}}
    assert checks.queues_without_dead_letter(ok) == []
    bare = copy.deepcopy(ok)
    del bare["Resources"]["Q"]["Properties"]["RedrivePolicy"]
    assert checks.queues_without_dead_letter(bare) == ["Q: no dead-letter queue (RedrivePolicy)",
                                                       "Dlq: no dead-letter queue (RedrivePolicy)"]


def test_table_without_point_in_time_recovery_is_caught():
    assert checks.tables_without_recovery({"Resources": {"T": TABLE}}) == []
    off = copy.deepcopy(TABLE)
    off["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = False
    assert checks.tables_without_recovery({"Resources": {"T": off}}) == ["T: point-in-time recovery is off"]
    del off["Properties"]["PointInTimeRecoverySpecification"]
    assert checks.tables_without_recovery({"Resources": {"T": off}})


def test_short_visibility_and_missing_partial_batch_response_are_caught():
    fn = {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 120, "Events": {"E": {
        "Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Q", "Arn"]}, "BatchSize": 5}}}}}
    problems = checks.sqs_trigger_problems({"Resources": {"Q": QUEUE, "Dlq": DLQ, "F": fn}})
    assert any("ReportBatchItemFailures" in p for p in problems)
    assert any("visibility 360s < 720s" in p for p in problems)


def test_wiring_rejects_a_function_without_an_access_entry():
    merged = template.merge_declarations()
    merged["Resources"]["Mystery"] = {"Type": "AWS::Serverless::Function",
                                      "Properties": {"Role": template.ROLE_PLACEHOLDER}}
    with pytest.raises(template.TemplateError, match="Mystery"):
        template.wire(merged, "prod")


def test_wiring_rejects_access_to_an_undeclared_table():
    merged = template.merge_declarations()
    merged["Resources"]["Scheduler"] = {"Type": "AWS::Serverless::Function",
                                        "Properties": {"Role": template.ROLE_PLACEHOLDER}}
    access = {"Functions": {"scheduler": {"Tables": {"NoSuchTable": "read"}}}}
    with pytest.raises(template.TemplateError, match="NoSuchTable"):
        template.wire(merged, "prod", access)


def test_deploy_only_declarations_stay_out_of_the_local_stack():
    """devstack provisions infra/resources.json only; deploy.json's types have no local meaning."""
    from devstack import provision

    deploy = template.load(template.DEPLOY)
    resources = template.load(template.RESOURCES)
    assert provision.TEMPLATE == template.RESOURCES
    assert not set(deploy["Resources"]) & set(resources["Resources"])
    local_types = {r["Type"] for r in resources["Resources"].values()}
    deploy_types = {"AWS::IAM::Role", "AWS::CloudWatch::Alarm", "AWS::SNS::Subscription"}
    assert not local_types & deploy_types - provision.DEPLOY_ONLY
