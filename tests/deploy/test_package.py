"""The packaged template and zip (built once per run by the ``packaged`` fixture): lint, least
privilege, queues, tables, alarms, and every handler importable from the zip alone."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from infra import checks, package, template

ROOT = Path(__file__).resolve().parents[2]


def test_template_passes_cfn_lint_without_errors(packaged):
    code, output = package.lint(packaged.template_path)
    assert not code & 2, f"cfn-lint found errors:\n{output}"  # 2 = errors; 4, 8 = warnings, info


def test_no_wildcard_resource_on_a_data_action(packaged):
    assert checks.wildcard_data_access(packaged.template) == []


def test_every_queue_has_a_dead_letter_queue(packaged):
    assert checks.queues_without_dead_letter(packaged.template) == []


def test_every_table_is_on_demand_with_point_in_time_recovery(packaged):
    assert checks.tables_without_recovery(packaged.template) == []


def test_sqs_triggers_report_partial_failures_and_outlast_six_timeouts(packaged):
    assert checks.sqs_trigger_problems(packaged.template) == []
    assert len(list(checks.sqs_triggers(packaged.template))) >= 2  # sync worker, alert evaluator


def test_each_function_has_its_own_role_log_group_and_errors_alarm(packaged):
    assert checks.function_problems(packaged.template) == []
    assert checks.secret_values(packaged.template) == []


def test_template_holds_what_the_app_needs(packaged):
    kinds = {r["Type"] for r in packaged.template["Resources"].values()}
    assert {"AWS::Serverless::Api", "AWS::Serverless::Function", "AWS::SQS::Queue", "AWS::DynamoDB::Table",
            "AWS::KMS::Key", "AWS::SES::EmailIdentity", "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm",
            "AWS::SNS::Topic", "AWS::IAM::Role"} <= kinds
    handlers = {f["Properties"]["Handler"] for f in packaged.functions().values()}
    assert {"app.app", "app.scheduler", "app.sync_worker"} <= handlers
    assert template.ROLE_PLACEHOLDER not in json.dumps(packaged.template)


def _decrypt_contexts(packaged, role: str) -> list[dict]:
    statements = packaged.template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return [s.get("Condition", {}).get("StringEquals", {}) for s in statements if "kms:Decrypt" in s["Action"]]


def test_only_the_sync_worker_can_decrypt_provider_keys(packaged):
    from chalicelib.providers.registry import PROVIDERS

    for logical in packaged.functions():
        for context in _decrypt_contexts(packaged, f"{logical}Role"):
            assert context.get("kms:EncryptionContext:purpose") == "provider-credentials", logical
            allowed = context.get("kms:EncryptionContext:provider")
            assert allowed, f"{logical} may decrypt any kind of sealed secret"
            allowed = set(allowed if isinstance(allowed, list) else [allowed])
            if logical == "SyncWorker":
                assert set(PROVIDERS) <= allowed, "a provider the sync worker cannot decrypt the keys of"
            else:
                assert not allowed & set(PROVIDERS), f"{logical} can decrypt provider keys"
    assert _decrypt_contexts(packaged, "SyncWorkerRole")
    assert not _decrypt_contexts(packaged, "SchedulerRole")


def test_every_access_entry_is_a_packaged_function(packaged):
    """A stale entry would be a role nobody reviews; a missing one fails the package step."""
    entries = template.load(template.ACCESS)["Functions"]
    assert {template.cfn_name(name) for name in entries} == set(packaged.functions())


def test_no_secret_in_the_chalice_config():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    scopes = [config, *config.get("stages", {}).values(), *config.get("lambda_functions", {}).values()]
    for scope in scopes:
        for name in scope.get("environment_variables", {}):
            assert not name.startswith("COSTPILOT_SECRET_"), f"{name} belongs in SSM Parameter Store"


def test_zip_is_within_budget_and_leaves_boto3_to_the_runtime(packaged):
    size = packaged.zip_path.stat().st_size
    assert size <= package.ZIP_LIMIT_BYTES, f"deployment.zip is {size / 2**20:.1f} MiB"
    with zipfile.ZipFile(packaged.zip_path) as z:
        tops = {name.split("/", 1)[0] for name in z.namelist()}
        unzipped = sum(i.file_size for i in z.infolist())
    assert not tops & {"boto3", "botocore", "s3transfer"}
    assert {"app.py", "chalicelib", "chalice", "pynamodb", "numpy", "pydantic"} <= tops
    assert unzipped < 250 * 2**20  # Lambda's limit for the extracted package


def _env_for(function: dict) -> dict[str, str]:
    """The function's environment as Lambda sets it (intrinsics replaced by plausible values)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "LANG": "C.UTF-8"}
    for name, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
        env[name] = value if isinstance(value, str) else f"placeholder-{name.lower()}"
    return env


IMPORT_PROBE = """
import importlib, sys
task, runtime, handler = sys.argv[1:4]
sys.path[:0] = [task, runtime]
module_name, attr = handler.rsplit(".", 1)
module = importlib.import_module(module_name)
assert callable(getattr(module, attr)), handler
stray = sorted(n for n, m in list(sys.modules.items())
               if (getattr(m, "__file__", None) or "").find("site-packages") >= 0
               and not (m.__file__.startswith(task) or m.__file__.startswith(runtime)))
assert not stray, f"imported from outside the package: {stray[:5]}"
assert module.__file__.startswith(task), module.__file__
from_source = sorted(n for n, m in list(sys.modules.items())
                     if (getattr(m, "__file__", None) or "").startswith(task) and m.__file__.endswith(".py")
                     and not (m.__spec__.cached and __import__("os").path.exists(m.__spec__.cached)))
assert not from_source, f"compiled from source at a cold start (no bytecode in the zip): {from_source[:5]}"
"""


def test_every_handler_imports_from_the_unzipped_package_and_its_bytecode(packaged, unzipped, lambda_runtime):
    shipped = sorted(unzipped.rglob("*.pyc"))
    failures = []
    for logical, function in sorted(packaged.functions().items()):
        handler = function["Properties"]["Handler"]
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", IMPORT_PROBE, str(unzipped), str(lambda_runtime), handler],
            check=False, env=_env_for(function), cwd=unzipped, capture_output=True, text=True, timeout=120)
        if result.returncode:
            failures.append(f"{logical} ({handler}):\n{result.stderr.strip()[-2000:]}")
    assert not failures, "\n\n".join(failures)
    assert sorted(unzipped.rglob("*.pyc")) == shipped, "bytecode was written (Lambda's /var/task is read-only)"


def test_the_shipped_bytecode_is_the_runtimes_and_matches_its_source(unzipped):
    """Unchecked-hash pycs (PEP 552) of Python 3.12, each beside its source and compiled from it."""
    shipped = sorted(unzipped.rglob("__pycache__/*.pyc"))
    assert len(shipped) > 300  # app, chalicelib, pydantic, Chalice, Powertools, PynamoDB, httpx...
    assert sys.version_info[:2] == (3, 12)
    for pyc in shipped:
        header = pyc.read_bytes()[:16]
        source = pyc.parent.parent / (pyc.name.split(".", 1)[0] + ".py")
        assert header[:4] == importlib.util.MAGIC_NUMBER, pyc
        assert int.from_bytes(header[4:8], "little") == 0b01, pyc  # hash-based, source not checked
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), pyc
