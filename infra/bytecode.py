"""Bytecode for the modules a cold start loads, compiled at packaging time and shipped in the zip.

Lambda extracts the zip to ``/var/task``, which is read-only: without bytecode in the zip, every
cold start compiles every module it imports from source and cannot keep the result. Compiling is
most of a cold import (pydantic, Chalice and Powertools are large), so the packager ships a
``__pycache__/*.cpython-312.pyc`` beside each module that importing the handler module and every
``chalicelib`` module loads (the routes' services included, so a first request does not compile
them either). Modules only imported inside functions (numpy's submodules past its core, stripe,
argon2) stay source-only: compiling all of them would take the zip past its 35 MiB budget.

The bytecode is *unchecked-hash* (PEP 552): Python uses it without comparing the source's mtime,
which a zip round trip does not preserve exactly (two-second resolution, local time). It cannot go
stale: the zip is built as one unit from the sources beside it. It is only valid for the Python
minor version that wrote it, so packaging refuses any interpreter other than the runtime's (3.12).

The list of modules comes from a probe run in a clean interpreter (``-I -S -B``) on the extracted
package, with the Lambda runtime's packages (boto3 and its dependencies) beside it, as
``bench/package_bench.py`` and tests/deploy measure it.
"""

from __future__ import annotations

import importlib.util
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME_PYTHON = (3, 12)
#: What the python3.12 Lambda runtime puts on the path beside /var/task (linked from our venv here).
RUNTIME_NAMES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")

_PROBE = """
import importlib, pkgutil, sys
task, runtime = sys.argv[1:3]
sys.path[:0] = [task, runtime]
importlib.import_module("app")
import chalicelib
for info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    importlib.import_module(info.name)
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if path.startswith(task) and path.endswith(".py"):
        print(path[len(task):].lstrip("/"))
"""


class BytecodeError(Exception):
    pass


def lambda_runtime(target: Path) -> Path:
    """A folder holding what the Lambda runtime provides (links to this venv's boto3 and friends)."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_NAMES:
        (target / name).symlink_to(site / name)
    return target


def function_env(template: dict, handler: str) -> dict[str, str]:
    """The environment Lambda gives ``handler`` (template intrinsics replaced by placeholders)."""
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "LANG": "C.UTF-8"}
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function" and res["Properties"]["Handler"] == handler:
            for k, v in res["Properties"].get("Environment", {}).get("Variables", {}).items():
                env[k] = v if isinstance(v, str) else f"placeholder-{k.lower()}"
    return env


def cold_modules(task: Path, runtime: Path, env: dict[str, str]) -> list[str]:
    """Paths (relative to ``task``) of the source files the probe imports from the package."""
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", _PROBE, str(task), str(runtime)],
                            env=env, cwd=task, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode:
        raise BytecodeError(f"importing the package failed:\n{result.stderr.strip()[-2000:]}")
    return sorted(set(result.stdout.split()))


def compile_cold_modules(zip_path: Path, template: dict) -> int:
    """Adds unchecked-hash bytecode of the cold-start modules to ``zip_path``; returns how many."""
    if sys.version_info[:2] != RUNTIME_PYTHON:
        raise BytecodeError(f"bytecode must be written by Python {'.'.join(map(str, RUNTIME_PYTHON))}, "
                            f"the Lambda runtime's; this is {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(task)
        runtime = lambda_runtime(Path(tmp) / "runtime")
        modules = cold_modules(task, runtime, function_env(template, "app.app"))
        with zipfile.ZipFile(zip_path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for relative in modules:
                cached = importlib.util.cache_from_source(relative)
                py_compile.compile(str(task / relative), cfile=str(task / cached), dfile=relative,
                                   doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                z.write(task / cached, cached)
    return len(modules)
