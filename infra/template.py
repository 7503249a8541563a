"""Builds the deployable template from Chalice's output and the declarations in ``infra/``.

Two steps, both pure functions over template dicts (the package step and the tests share them):

``merge_declarations``
    ``resources.json`` (tables, queues, key, SES identity: also provisioned locally) plus
    ``deploy.json`` (deploy-only: alarm topic, parameters). Chalice merges the result into its
    template (``chalice package --merge-template``).
``wire``
    What depends on which functions Chalice generated: one IAM role per function expanded from
    ``deploy-access.json`` (every data resource named by ARN), fixed function names and their log
    groups with retention, SQS event sources bound to the declared queues with partial batch
    responses, error alarms per function and depth alarms per dead-letter queue, API stage
    throttling, and the stage pinned (queue and table names are baked in when Chalice imports
    app.py, so the template only deploys for the stage it was packaged for).

A function without an entry in ``deploy-access.json``, an entry naming an undeclared resource, or
an SQS trigger on an undeclared queue fails the build: the IAM is written, not guessed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parent
RESOURCES = INFRA / "resources.json"
DEPLOY = INFRA / "deploy.json"
ACCESS = INFRA / "deploy-access.json"

# Chalice must be given a role for each function when it does not manage IAM; the wiring replaces
# this placeholder with the function's own role, and checks that none is left.
ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/costpilot-set-by-infra-template"
APP_NAME = "costpilot"

TABLE_ACTIONS = {
    "read": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
             "dynamodb:ConditionCheckItem"],
    "read-write": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                   "dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                   "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
}
INDEX_ACTIONS = ["dynamodb:Query", "dynamodb:Scan"]
QUEUE_ACTIONS = {
    "send": ["sqs:SendMessage", "sqs:GetQueueUrl"],
    # what the Lambda event source mapping does with the function's role, and a handler pushing a
    # received message's next attempt out (backoff)
    "consume": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"],
}
# AWS Encryption SDK with one strict KMS master key: sealing asks for a data key, opening decrypts it.
KMS_ACTIONS = {"encrypt": ["kms:GenerateDataKey"], "decrypt": ["kms:Decrypt"]}
SES_ACTIONS = {"send": ["ses:SendRawEmail", "ses:SendEmail"]}

FUNCTION_ENV = {
    # the key's ARN (not the alias): strict-mode decryption needs it, and it saves a lookup
    "COSTPILOT_KMS_KEY_ID": {"Fn::GetAtt": ["ProviderKeysKey", "Arn"]},
    "COSTPILOT_ALERT_SENDER": {"Ref": "SenderEmail"},
}


# API Gateway answers requests that reach no route itself (403 "Missing Authentication Token", echoing
# a caller's Authorization header in its message). These gateway responses give our error shape and
# never include the request: unknown routes are a 404; every other gateway-made answer keeps its
# status. devstack/local_gateway.py serves the same bodies on the local stack and in tests.
UNKNOWN_ROUTE = {"error": {"code": "not_found", "message": "no such route; the API is described at /api/openapi.json"}}
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", UNKNOWN_ROUTE),
    "DEFAULT_4XX": (None, {"error": {"code": "request_rejected", "message": "the request was refused"}}),
    "DEFAULT_5XX": (None, {"error": {"code": "internal_error", "message": "An internal error occurred."}}),
}
GATEWAY_RESPONSE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store",
                            "X-Content-Type-Options": "nosniff"}


class TemplateError(Exception):
    """The declarations and Chalice's output do not fit together (message says what to fix)."""


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# ---- step 1: the declarations ----------------------------------------------------------------

def merge_declarations(resources: dict[str, Any] | None = None, deploy: dict[str, Any] | None = None,
                       ) -> dict[str, Any]:
    """resources.json + deploy.json; a logical id declared in both is an error, not an override."""
    resources = copy.deepcopy(resources if resources is not None else load(RESOURCES))
    deploy = copy.deepcopy(deploy if deploy is not None else load(DEPLOY))
    merged: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    merged["Description"] = "CostPilot (Chalice app, infra/resources.json and infra/deploy.json)"
    for section in ("Parameters", "Conditions", "Resources", "Outputs"):
        a, b = resources.get(section, {}), deploy.get(section, {})
        both = sorted(set(a) & set(b))
        if both:
            raise TemplateError(f"{section} {both} declared in both {RESOURCES.name} and {DEPLOY.name}")
        if a or b:
            merged[section] = {**a, **b}
    return merged


# ---- step 2: wiring per function -------------------------------------------------------------

def cfn_name(function_name: str) -> str:
    from chalice.utils import to_cfn_resource_name

    return "APIHandler" if function_name == "api_handler" else to_cfn_resource_name(function_name)


def physical_name(node: Any, stage: str) -> str | None:
    """A literal or ``Fn::Sub`` name with ``${Stage}`` resolved (what the app computes)."""
    if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
        node = node["Fn::Sub"].replace("${Stage}", stage)
    return node if isinstance(node, str) and "${" not in node else None


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Logical ids of queues that another queue's redrive policy targets."""
    found = set()
    for q in of_type(template, "AWS::SQS::Queue").values():
        target = q.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            found.add(target["Fn::GetAtt"][0])
    return found


def wire(template: dict[str, Any], stage: str, access: dict[str, Any] | None = None) -> dict[str, Any]:
    """Returns the deployable template (the input is not modified)."""
    t = copy.deepcopy(template)
    access = access if access is not None else load(ACCESS)
    resources = t["Resources"]
    _pin_stage(t, stage)
    functions = of_type(t, "AWS::Serverless::Function")
    by_cfn = {cfn_name(name): name for name in access["Functions"]}
    unknown = sorted(set(functions) - set(by_cfn))
    if unknown:
        raise TemplateError(f"functions {unknown} have no entry in infra/{ACCESS.name}: write what each may "
                            "touch (its role is built from that entry)")
    # Chalice's own log groups take their name from the function; ours use the fixed name.
    for logical, res in list(resources.items()):
        if res.get("Type") == "AWS::Logs::LogGroup" and logical.endswith("LogGroup") and logical[:-8] in functions:
            del resources[logical]
    for logical, fn in functions.items():
        name = by_cfn[logical]
        props = fn["Properties"]
        if props.get("Role") != ROLE_PLACEHOLDER:
            raise TemplateError(f"{logical}: expected Chalice's placeholder role, found {props.get('Role')!r}")
        function_name = {"Fn::Sub": f"{APP_NAME}-${{Stage}}-{name}"}
        props["FunctionName"] = function_name
        props["Role"] = {"Fn::GetAtt": [f"{logical}Role", "Arn"]}
        env = props.setdefault("Environment", {}).setdefault("Variables", {})
        env.update(copy.deepcopy(FUNCTION_ENV))
        resources[f"{logical}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": {"Fn::Sub": f"/aws/lambda/{APP_NAME}-${{Stage}}-{name}"},
                           "RetentionInDays": {"Ref": "LogRetentionDays"}},
        }
        fn["DependsOn"] = sorted(set(_as_list(fn.get("DependsOn"))) | {f"{logical}LogGroup"})
        _bind_queue_events(t, logical, stage)
        resources[f"{logical}Role"] = role(t, name, access["Functions"][name], stage)
        resources[f"{logical}ErrorsAlarm"] = _alarm(
            f"{APP_NAME}-${{Stage}}-{name}-errors", f"{name} raised errors (see its log group)",
            "AWS/Lambda", "Errors", "Sum", {"FunctionName": {"Ref": logical}})
    for dlq in sorted(dead_letter_queues(t)):
        resources[f"{dlq}DepthAlarm"] = _alarm(
            {"Fn::Sub": f"${{{dlq}.QueueName}}-depth"}, "messages failed every retry and wait in the dead-letter queue",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
            {"QueueName": {"Fn::GetAtt": [dlq, "QueueName"]}})
    if "RestAPI" in resources:
        for kind, (status, body) in GATEWAY_RESPONSES.items():
            resources[f"GatewayResponse{_camel(kind.lower())}"] = _gateway_response(kind, status, body)
        resources["RestAPI"]["Properties"]["MethodSettings"] = [{
            "ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottleRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurstLimit"},
        }]
    return t


def _gateway_response(kind: str, status: str | None, body: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "RestApiId": {"Ref": "RestAPI"},
        "ResponseType": kind,
        "ResponseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in GATEWAY_RESPONSE_HEADERS.items()},
        "ResponseTemplates": {"application/json": json.dumps(body)},
    }
    if status:
        props["StatusCode"] = status
    return {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": props}


def _as_list(value: Any) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def _pin_stage(t: dict[str, Any], stage: str) -> None:
    param = t.setdefault("Parameters", {}).get("Stage")
    if param is None:
        raise TemplateError("infra/resources.json must declare the Stage parameter")
    param["Default"] = stage
    param["AllowedValues"] = [stage]
    param["Description"] = (f"Packaged for stage {stage!r}: Chalice baked this stage's queue names into the "
                            "template, so it deploys for this stage only (re-run infra/package.sh for another)")
    param.pop("AllowedPattern", None)


def _bind_queue_events(t: dict[str, Any], logical: str, stage: str) -> None:
    queues = {physical_name(q["Properties"].get("QueueName"), stage): k
              for k, q in of_type(t, "AWS::SQS::Queue").items()}
    for event_name, event in t["Resources"][logical]["Properties"].get("Events", {}).items():
        if event.get("Type") != "SQS":
            continue
        queue = event["Properties"]["Queue"]
        arn = queue.get("Fn::Sub", "") if isinstance(queue, dict) else queue
        queue_name = arn.rsplit(":", 1)[-1]
        if queue_name not in queues:
            raise TemplateError(f"{logical}.{event_name} reads queue {queue_name!r}, which infra/resources.json "
                                "does not declare (with a dead-letter queue)")
        event["Properties"]["Queue"] = {"Fn::GetAtt": [queues[queue_name], "Arn"]}
        # the handlers return {"batchItemFailures": [...]}: only those messages are retried
        event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]


def _alarm(name: Any, description: str, namespace: str, metric: str, statistic: str,
           dimensions: dict[str, Any]) -> dict[str, Any]:
    if isinstance(name, str):
        name = {"Fn::Sub": name}
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": name,
            "AlarmDescription": f"CostPilot: {description}",
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "OKActions": [{"Ref": "AlarmTopic"}],
        },
    }


# ---- IAM: one role per function, from its access entry ----------------------------------------

def role(t: dict[str, Any], name: str, entry: dict[str, Any], stage: str) -> dict[str, Any]:
    """The function's IAM role: logs for its own log group, then each declared access by ARN."""
    statements: list[dict[str, Any]] = [{
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                                f"/aws/lambda/{APP_NAME}-${{Stage}}-{name}:*"},
    }]
    statements += _table_statements(t, name, entry.get("Tables", {}))
    statements += _queue_statements(t, name, entry.get("Queues", {}))
    statements += _kms_statements(t, name, entry.get("Kms", []))
    if entry.get("Ses"):
        if entry["Ses"] not in SES_ACTIONS or not of_type(t, "AWS::SES::EmailIdentity"):
            raise TemplateError(f"{name}: Ses must be 'send' and infra/resources.json must declare the identity")
        statements.append({
            "Sid": "SendAlertEmail", "Effect": "Allow", "Action": SES_ACTIONS[entry["Ses"]],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}"
            },
        })
    if entry.get("AssumeCustomerRoles"):
        statements.append({
            "Sid": "AssumeCustomerCostExplorerRoles", "Effect": "Allow", "Action": ["sts:AssumeRole"],
            # the customer's role in the customer's account: any account but ours, with an ExternalId
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/*"},
            "Condition": {"StringNotEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}},
                          "Null": {"sts:ExternalId": "false"}},
        })
    if entry.get("Secrets"):
        statements.append({
            "Sid": "ReadSecretsByName", "Effect": "Allow", "Action": ["ssm:GetParameter"],
            # SecureStrings under the AWS managed key aws/ssm: its key policy lets SSM decrypt for
            # any principal allowed to read the parameter, so no kms:Decrypt is granted here.
            "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"
                                     f"{APP_NAME}/${{Stage}}/{secret}"} for secret in entry["Secrets"]],
        })
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": {"Fn::Sub": f"CostPilot ${{Stage}} {name}: {entry.get('Why', '')}"[:1000]},
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            },
            "Policies": [{"PolicyName": f"{APP_NAME}-{name}",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


def _declared(t: dict[str, Any], name: str, logical: str, kind: str) -> dict[str, Any]:
    res = t["Resources"].get(logical)
    if res is None or res.get("Type") != kind:
        raise TemplateError(f"infra/{ACCESS.name}: {name} names {logical}, which is not a declared {kind}")
    return res


def _table_statements(t: dict[str, Any], name: str, tables: dict[str, str]) -> list[dict[str, Any]]:
    levels: dict[str, str] = {}
    for logical, level in tables.items():
        if level not in TABLE_ACTIONS:
            raise TemplateError(f"{name}: table access {level!r} is not one of {sorted(TABLE_ACTIONS)}")
        targets = sorted(of_type(t, "AWS::DynamoDB::Table")) if logical == "*" else [logical]
        for target in targets:
            _declared(t, name, target, "AWS::DynamoDB::Table")
            if levels.get(target) != "read-write":
                levels[target] = level
    out = []
    for level in ("read", "read-write"):
        names = sorted(k for k, v in levels.items() if v == level)
        if not names:
            continue
        out.append({"Sid": "Tables" + _camel(level), "Effect": "Allow", "Action": TABLE_ACTIONS[level],
                    "Resource": [{"Fn::GetAtt": [n, "Arn"]} for n in names]})
        indexes = [{"Fn::Sub": f"${{{n}.Arn}}/index/{index}"} for n in names for index in _index_names(t, n)]
        if indexes:
            out.append({"Sid": "Indexes" + _camel(level), "Effect": "Allow", "Action": INDEX_ACTIONS,
                        "Resource": indexes})
    return out


def _index_names(t: dict[str, Any], table: str) -> list[str]:
    props = t["Resources"][table]["Properties"]
    return [i["IndexName"] for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes") for i in props.get(key, [])]


def _queue_statements(t: dict[str, Any], name: str, queues: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for level, actions in QUEUE_ACTIONS.items():
        names = sorted(k for k, v in queues.items() if v == level)
        for n in names:
            _declared(t, name, n, "AWS::SQS::Queue")
        if names:
            out.append({"Sid": "Queues" + _camel(level), "Effect": "Allow", "Action": actions,
                        "Resource": [{"Fn::GetAtt": [n, "Arn"]} for n in names]})
    bad = sorted(v for v in queues.values() if v not in QUEUE_ACTIONS)
    if bad:
        raise TemplateError(f"{name}: queue access {bad} is not one of {sorted(QUEUE_ACTIONS)}")
    return out


def _kms_statements(t: dict[str, Any], name: str, grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    keys = []
    for i, grant in enumerate(grants):
        logical, use = grant.get("Key", ""), grant.get("Use")
        _declared(t, name, logical, "AWS::KMS::Key")
        if use not in KMS_ACTIONS:
            raise TemplateError(f"{name}: kms use {use!r} is not one of {sorted(KMS_ACTIONS)}")
        statement: dict[str, Any] = {"Sid": f"Kms{_camel(use)}{i}", "Effect": "Allow",
                                     "Action": KMS_ACTIONS[use], "Resource": {"Fn::GetAtt": [logical, "Arn"]}}
        if grant.get("Context"):
            # KMS sees the AWS Encryption SDK's encryption context: each grant names the contexts
            # (hence the kinds of secret) this function may seal or open
            statement["Condition"] = {"StringEquals": {f"kms:EncryptionContext:{k}": v
                                                       for k, v in grant["Context"].items()}}
        out.append(statement)
        if logical not in keys:
            keys.append(logical)
    for logical in keys:
        # the adapter resolves the configured key id to its ARN once per cold start
        out.append({"Sid": "KmsDescribe" + logical, "Effect": "Allow", "Action": ["kms:DescribeKey"],
                    "Resource": {"Fn::GetAtt": [logical, "Arn"]}})
    return out


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_ ]", text))
