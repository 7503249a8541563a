"""Creates the resources declared in infra/resources.json inside an AWS emulation (moto).

The declarations are written once, as CloudFormation, for deployment; this reads the same file so
what runs locally is what is deployed. moto's own CloudFormation drops table TTL, point-in-time
recovery and SES identities, so each supported resource type is created through its API here.
An unsupported data-plane type fails loudly rather than being skipped; deploy-only types (IAM,
alarms, logs) have no local meaning and are listed in DEPLOY_ONLY.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
ACCOUNT_ID = "123456789012"
DEPLOY_ONLY = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
    "AWS::SSM::Parameter",
}


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


class _Resolver:
    def __init__(self, template: dict[str, Any], params: dict[str, str], region: str):
        defaults = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        self.values: dict[str, Any] = {**defaults, **params}
        self.values.update({"AWS::AccountId": ACCOUNT_ID, "AWS::Region": region, "AWS::Partition": "aws"})
        self.attrs: dict[tuple[str, str], str] = {}

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.values[arg]
            if fn == "Fn::Sub":
                text = arg
                for name, value in self.values.items():
                    text = text.replace("${" + name + "}", str(value))
                return text
            if fn == "Fn::GetAtt":
                return self.attrs[(arg[0], arg[1])]
        return {k: self(v) for k, v in node.items()}


def provision(session: Any, params: dict[str, str]) -> dict[str, str]:
    """Creates every resource; returns logical id -> physical id (table name, queue URL, key id)."""
    template = load_template()
    region = session.region_name
    resolve = _Resolver(template, params, region)
    created: dict[str, str] = {}
    for logical, resource in _in_dependency_order(template["Resources"]):
        kind = resource["Type"]
        props = resolve(resource.get("Properties", {}))
        if kind == "AWS::DynamoDB::Table":
            created[logical] = _table(session.client("dynamodb"), props)
        elif kind == "AWS::SQS::Queue":
            url, arn = _queue(session.client("sqs"), props)
            created[logical] = url
            resolve.attrs[(logical, "Arn")] = arn
            resolve.values[logical] = url
        elif kind == "AWS::KMS::Key":
            key = session.client("kms").create_key(Description=props.get("Description", ""))["KeyMetadata"]
            created[logical] = key["KeyId"]
            resolve.values[logical] = key["KeyId"]
            resolve.attrs[(logical, "Arn")] = key["Arn"]
            if props.get("EnableKeyRotation"):
                session.client("kms").enable_key_rotation(KeyId=key["KeyId"])
        elif kind == "AWS::KMS::Alias":
            session.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
            created[logical] = props["AliasName"]
        elif kind == "AWS::SES::EmailIdentity":
            session.client("ses").verify_email_identity(EmailAddress=props["EmailIdentity"])
            created[logical] = props["EmailIdentity"]
        elif kind in DEPLOY_ONLY:
            continue
        else:
            raise NotImplementedError(f"the local stack cannot create {logical} ({kind})")
    return created


def _in_dependency_order(resources: dict[str, Any]) -> list[tuple[str, Any]]:
    def refs(node: Any) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(refs, node)) if node else set()
        if isinstance(node, dict):
            found: set[str] = set()
            for k, v in node.items():
                if k == "Ref" and isinstance(v, str) and v in resources:
                    found.add(v)
                elif k == "Fn::GetAtt":
                    found.add(v[0])
                else:
                    found |= refs(v)
            return found
        return set()

    ordered: list[tuple[str, Any]] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for dep in sorted(refs(resources[name])):
            visit(dep)
        ordered.append((name, resources[name]))

    for name in resources:
        visit(name)
    return ordered


def _table(dynamodb: Any, props: dict[str, Any]) -> str:
    name = props["TableName"]
    kwargs = {
        k: props[k]
        for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
        if k in props
    }
    try:
        dynamodb.create_table(**kwargs)
    except dynamodb.exceptions.ResourceInUseException:
        return name  # already provisioned (restart against a running emulation)
    if "TimeToLiveSpecification" in props:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    if "PointInTimeRecoverySpecification" in props:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
        )
    return name


def _queue(sqs: Any, props: dict[str, Any]) -> tuple[str, str]:
    attributes = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
        if key in props:
            attributes[key] = str(props[key])
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn
