"""The packaged template and zip, built once per test run (``infra/package.py``, no lint: the lint
is a test of its own). With pytest-xdist the first worker builds under a file lock and the others
reuse that build; Chalice's dependency cache (build/package-src) makes later runs take seconds."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import bytecode, package

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"
OUT = ROOT / "build" / "test-package"
_RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


@dataclass(frozen=True)
class Packaged:
    template_path: Path
    zip_path: Path
    template: dict

    def functions(self) -> dict[str, dict]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


@pytest.fixture(scope="session")
def packaged() -> Packaged:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT.parent / ".test-package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = OUT / ".built-by"
        if not (stamp.exists() and stamp.read_text() == _RUN_ID):
            try:
                package.build(STAGE, OUT, run_lint=False, quiet=True)
            except (package.PackageError, package.template.TemplateError) as e:
                pytest.fail(f"infra/package.py could not package the app: {e}", pytrace=False)
            stamp.write_text(_RUN_ID)
    return Packaged(OUT / "sam.json", OUT / "deployment.zip", json.loads((OUT / "sam.json").read_text()))


@pytest.fixture(scope="session")
def unzipped(packaged: Packaged, tmp_path_factory) -> Path:
    """The package as Lambda extracts it to /var/task (with the bytecode the zip ships)."""
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(packaged.zip_path) as z:
        z.extractall(target)
    return target


@pytest.fixture(scope="session")
def lambda_runtime(tmp_path_factory) -> Path:
    """What the python3.12 runtime adds to the path: boto3 and its dependencies (links to ours)."""
    return bytecode.lambda_runtime(tmp_path_factory.mktemp("runtime"))
