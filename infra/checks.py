"""Checks of a packaged template that cfn-lint does not make: each returns the problems it found.

Run by the package step (which fails on any) and by tests/deploy. They read only the template, so
they also catch what another engineer adds to infra/resources.json or to the IAM wiring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# Actions on data: a role granting one of these must name the resources (no "*" anywhere in them).
DATA_SERVICES = ("dynamodb", "sqs", "kms", "ses", "sns", "s3", "secretsmanager", "ssm")
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
# Lambda's SQS poller: messages must stay invisible for at least this many function timeouts.
VISIBILITY_TIMEOUT_FACTOR = 6
SECRET_MARKERS = ("sk_live_", "sk_test_", "whsec_", "-----BEGIN")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == kind}


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of an identity policy (roles' inline policies, policies, SAM function policies)."""
    for logical, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        docs = []
        if res.get("Type") == "AWS::IAM::Role":
            docs = [p.get("PolicyDocument", {}) for p in props.get("Policies", [])]
        elif res.get("Type") in IAM_TYPES:
            docs = [props.get("PolicyDocument", {})]
        elif res.get("Type") == "AWS::Serverless::Function":
            docs = [p for p in _as_list(props.get("Policies")) if isinstance(p, dict) and "Statement" in p]
        for doc in docs:
            for statement in _as_list(doc.get("Statement")):
                yield logical, statement


def _as_list(value: Any) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def wildcard_data_access(template: dict[str, Any]) -> list[str]:
    """Allow statements on data actions whose action or resource contains a wildcard."""
    problems = []
    for logical, s in _statements(template):
        if s.get("Effect") != "Allow":
            continue
        actions = [a for a in _as_list(s.get("Action")) if isinstance(a, str)]
        data = [a for a in actions if a == "*" or a.split(":")[0].lower() in DATA_SERVICES]
        if not data:
            continue
        if "NotResource" in s or "NotAction" in s:
            problems.append(f"{logical}: {data} granted with NotResource/NotAction")
        if any("*" in a for a in data):
            problems.append(f"{logical}: wildcard action in {data}")
        for r in _as_list(s.get("Resource")):
            if "*" in json.dumps(r):
                problems.append(f"{logical}: {data} on a wildcard resource {json.dumps(r)}")
    return problems


def queues_without_dead_letter(template: dict[str, Any]) -> list[str]:
    """Queues that are neither a dead-letter queue nor redrive to one (with a bounded receive count)."""
    queues = resources(template, "AWS::SQS::Queue")
    targets = set()
    for q in queues.values():
        target = q.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            targets.add(target["Fn::GetAtt"][0])
    problems = []
    for logical, q in queues.items():
        redrive = q.get("Properties", {}).get("RedrivePolicy")
        if logical in targets:
            if q.get("Properties", {}).get("MessageRetentionPeriod", 345600) < 1209600:
                problems.append(f"{logical}: a dead-letter queue should keep messages 14 days (1209600 s)")
            continue
        if not redrive or not redrive.get("deadLetterTargetArn"):
            problems.append(f"{logical}: no dead-letter queue (RedrivePolicy)")
        elif not 1 <= int(redrive.get("maxReceiveCount", 0)) <= 10:
            problems.append(f"{logical}: maxReceiveCount should be 1..10")
    return problems


def tables_without_recovery(template: dict[str, Any]) -> list[str]:
    """Tables without point-in-time recovery, or not on-demand."""
    problems = []
    for logical, table in resources(template, "AWS::DynamoDB::Table").items():
        props = table.get("Properties", {})
        if not props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            problems.append(f"{logical}: point-in-time recovery is off")
        if props.get("BillingMode") != "PAY_PER_REQUEST":
            problems.append(f"{logical}: not on-demand (BillingMode PAY_PER_REQUEST)")
        if table.get("DeletionPolicy") != "Retain":
            problems.append(f"{logical}: DeletionPolicy should be Retain (user data)")
    return problems


def sqs_triggers(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical, fn in resources(template, "AWS::Serverless::Function").items():
        for name, event in fn.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == "SQS":
                yield logical, name, event["Properties"]


def sqs_trigger_problems(template: dict[str, Any]) -> list[str]:
    """Each SQS trigger: partial batch responses on, a declared queue whose visibility timeout is at
    least six times the function's timeout plus the batching window."""
    problems = []
    queues = resources(template, "AWS::SQS::Queue")
    for logical, name, props in sqs_triggers(template):
        if "ReportBatchItemFailures" not in props.get("FunctionResponseTypes", []):
            problems.append(f"{logical}.{name}: FunctionResponseTypes lacks ReportBatchItemFailures")
        queue = props.get("Queue")
        if not (isinstance(queue, dict) and "Fn::GetAtt" in queue and queue["Fn::GetAtt"][0] in queues):
            problems.append(f"{logical}.{name}: queue {json.dumps(queue)} is not a declared queue")
            continue
        visibility = queues[queue["Fn::GetAtt"][0]]["Properties"].get("VisibilityTimeout", 30)
        timeout = template["Resources"][logical]["Properties"].get("Timeout", 3)
        need = VISIBILITY_TIMEOUT_FACTOR * timeout + props.get("MaximumBatchingWindowInSeconds", 0)
        if visibility < need:
            problems.append(f"{logical}.{name}: {queue['Fn::GetAtt'][0]} visibility {visibility}s < {need}s "
                            f"({VISIBILITY_TIMEOUT_FACTOR} x timeout {timeout}s + batching window)")
    return problems


def function_problems(template: dict[str, Any]) -> list[str]:
    """Each function: its own role (no role shared between functions), a log group with retention,
    an errors alarm; every dead-letter queue has a depth alarm; the API stage is throttled."""
    problems = []
    functions = resources(template, "AWS::Serverless::Function")
    roles: dict[str, str] = {}
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    alarmed = {json.dumps(d["Value"]) for a in alarms for d in a["Properties"].get("Dimensions", [])}
    log_groups = {json.dumps(g["Properties"].get("LogGroupName")): g
                  for g in resources(template, "AWS::Logs::LogGroup").values()}
    for logical, fn in functions.items():
        props = fn["Properties"]
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role
                and template["Resources"].get(role["Fn::GetAtt"][0], {}).get("Type") == "AWS::IAM::Role"):
            problems.append(f"{logical}: role {json.dumps(role)} is not a role of this template")
        elif role["Fn::GetAtt"][0] in roles:
            problems.append(f"{logical}: shares its role with {roles[role['Fn::GetAtt'][0]]}")
        else:
            roles[role["Fn::GetAtt"][0]] = logical
        name = props.get("FunctionName", {}).get("Fn::Sub") if isinstance(props.get("FunctionName"), dict) else None
        group = log_groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/{name}"})) if name else None
        if group is None or "RetentionInDays" not in group["Properties"]:
            problems.append(f"{logical}: no log group with retention for its function name")
        if json.dumps({"Ref": logical}) not in alarmed:
            problems.append(f"{logical}: no alarm on its errors")
    for q in resources(template, "AWS::SQS::Queue"):
        is_dlq = any(
            json.dumps(other.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
            == json.dumps({"Fn::GetAtt": [q, "Arn"]}) for other in resources(template, "AWS::SQS::Queue").values())
        if is_dlq and json.dumps({"Fn::GetAtt": [q, "QueueName"]}) not in alarmed:
            problems.append(f"{q}: dead-letter queue without a depth alarm")
    for logical, api in resources(template, "AWS::Serverless::Api").items():
        settings = api["Properties"].get("MethodSettings", [])
        if not any("ThrottlingRateLimit" in s and "ThrottlingBurstLimit" in s for s in settings):
            problems.append(f"{logical}: stage has no throttling (MethodSettings)")
    for logical, key in resources(template, "AWS::KMS::Key").items():
        if not key["Properties"].get("EnableKeyRotation"):
            problems.append(f"{logical}: key rotation is off")
    return problems


def secret_values(template: dict[str, Any]) -> list[str]:
    """Anything that looks like a secret value in the template (they are read at run time by name)."""
    text = json.dumps(template)
    problems = [f"template contains {marker!r}" for marker in SECRET_MARKERS if marker in text]
    for logical, fn in resources(template, "AWS::Serverless::Function").items():
        for var in fn["Properties"].get("Environment", {}).get("Variables", {}):
            if var.startswith("COSTPILOT_SECRET_"):
                problems.append(f"{logical}: secret {var} set in the environment (store it in SSM)")
    return problems


def all_problems(template: dict[str, Any]) -> list[str]:
    return (wildcard_data_access(template) + queues_without_dead_letter(template)
            + tables_without_recovery(template) + sqs_trigger_problems(template)
            + function_problems(template) + secret_values(template))
