"""Packages CostPilot for one stage: ``build/package/sam.json`` and ``build/package/deployment.zip``.

Steps (no AWS account or credentials; the package index must be reachable the first time, after
which Chalice's dependency cache under ``build/package-src/.chalice/deployments`` is reused):

1. stage the app (``app.py``, ``chalicelib/``, ``requirements.txt``, ``.chalice/config.json``) into
   ``build/package-src``, with Chalice's IAM management off (roles come from infra/deploy-access.json);
2. ``chalice package --merge-template`` with infra/resources.json + infra/deploy.json, with
   ``COSTPILOT_STAGE`` set so the SQS triggers name the stage's queues;
3. wire the template per function (``infra.template.wire``) and run ``infra.checks``;
4. drop from the zip what the Lambda python3.12 runtime already provides (boto3, botocore and their
   pure-Python dependencies pulled in by pynamodb and aws-encryption-sdk);
5. add bytecode for the modules a cold start loads (``infra.bytecode``: /var/task is read-only, so
   without it every cold start compiles them again);
6. ``cfn-lint`` the template (unless ``--no-lint``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import bytecode, checks, template

INDEX_URL = "https://pypi.org/simple/pip/"
# Top-level names the python3.12 Lambda runtime ships (boto3 and its dependencies). urllib3 stays:
# requests (stripe) and botocore both accept ours, and the runtime's version is not ours to pin.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six")
RUNTIME_DISTS = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "six")
ZIP_LIMIT_BYTES = 35 * 1024 * 1024


class PackageError(Exception):
    pass


def index_reachable(timeout: float = 5.0) -> str | None:
    """None if the package index answers, else why not."""
    try:
        with urllib.request.urlopen(INDEX_URL, timeout=timeout) as response:
            response.read(1)
        return None
    except Exception as e:  # noqa: BLE001 - any failure means chalice cannot download wheels
        return f"{type(e).__name__}: {e}"


def stage_sources(src: Path) -> None:
    """Copies what is deployed into ``src`` (kept between runs: Chalice caches dependencies there)."""
    src.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(ROOT / name, src / name)
    shutil.rmtree(src / "chalicelib", ignore_errors=True)
    shutil.copytree(ROOT / "chalicelib", src / "chalicelib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    config["manage_iam_role"] = False
    config["iam_role_arn"] = template.ROLE_PLACEHOLDER
    (src / ".chalice").mkdir(exist_ok=True)
    (src / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))


def run_chalice(src: Path, stage: str, merge_template: Path, out: Path) -> None:
    env = {**os.environ, "COSTPILOT_STAGE": stage}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # Chalice wants a region; nothing is called
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(var, None)
    chalice = Path(sys.executable).parent / "chalice"
    cmd = [str(chalice), "--project-dir", str(src), "package", "--stage", stage,
           "--merge-template", str(merge_template), str(out)]
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    missing = "Could not install dependencies" in output or "Could not satisfy the requirement" in output
    if result.returncode == 0 and not missing:
        return
    why = index_reachable()
    if why:
        hint = (f"The package index is unreachable ({why}): chalice package downloads the Lambda-platform "
                "wheels of requirements.txt from PyPI. Connect to it (or set PIP_INDEX_URL to a mirror) and retry.")
    elif missing:
        index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
        hint = (f"pip could not download a Lambda-platform (manylinux, cp312) wheel from the package index "
                f"{index}: is it reachable from here, and does it carry every pin of requirements.txt?")
    else:
        hint = "chalice package failed; its output is below."
    raise PackageError(f"{hint}\n\nchalice package (exit {result.returncode}), last lines:\n{output.strip()[-3000:]}")


def prune_zip(source: Path, dest: Path) -> dict[str, int]:
    """Rewrites the zip without runtime-provided packages; returns bytes dropped per top-level name."""
    dropped: dict[str, int] = {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            top = info.filename.split("/", 1)[0]
            stem = top.split("-", 1)[0] if top.endswith((".dist-info", ".egg-info")) else top.removesuffix(".py")
            if stem in RUNTIME_PROVIDED or stem in RUNTIME_DISTS or "/__pycache__/" in f"/{info.filename}":
                dropped[stem] = dropped.get(stem, 0) + info.compress_size
                continue
            zout.writestr(info, zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return dropped


def lint(path: Path) -> tuple[int, str]:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(path)], check=False, capture_output=True, text=True)
    return result.returncode, (result.stdout + result.stderr).strip()


def build(stage: str, out: Path, *, run_lint: bool = True, quiet: bool = False) -> dict:
    say = (lambda *_: None) if quiet else (lambda *a: print(*a, flush=True))
    out = out.resolve()
    src = ROOT / "build" / "package-src"
    out.mkdir(parents=True, exist_ok=True)
    stage_sources(src)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmpdir = Path(tmp)
        merge = tmpdir / "infra-merged.json"
        merge.write_text(json.dumps(template.merge_declarations(), indent=2))
        say(f"chalice package --stage {stage} (dependencies for the Lambda python3.12 platform)...")
        run_chalice(src, stage, merge, tmpdir / "chalice")
        packaged = json.loads((tmpdir / "chalice" / "sam.json").read_text())
        wired = template.wire(packaged, stage)
        problems = checks.all_problems(wired)
        if problems:
            raise PackageError("the template fails the deploy checks:\n  " + "\n  ".join(problems))
        (out / "sam.json").write_text(json.dumps(wired, indent=2, sort_keys=False) + "\n")
        dropped = prune_zip(tmpdir / "chalice" / "deployment.zip", out / "deployment.zip")
        try:
            compiled = bytecode.compile_cold_modules(out / "deployment.zip", wired)
        except bytecode.BytecodeError as e:
            raise PackageError(str(e)) from e
    zip_bytes = (out / "deployment.zip").stat().st_size
    say(f"dropped (in the Lambda runtime): {', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in sorted(dropped.items()))}")
    say(f"bytecode added for {compiled} modules a cold start loads")
    say(f"{out / 'sam.json'}: {len(wired['Resources'])} resources")
    say(f"{out / 'deployment.zip'}: {zip_bytes / 1024 / 1024:.1f} MiB")
    if zip_bytes > ZIP_LIMIT_BYTES:
        raise PackageError(f"deployment.zip is {zip_bytes / 1024 / 1024:.1f} MiB, over the 35 MiB budget")
    summary = {"template": str(out / "sam.json"), "zip": str(out / "deployment.zip"), "zip_bytes": zip_bytes}
    if run_lint:
        code, text = lint(out / "sam.json")
        say(f"cfn-lint: {'clean' if code == 0 else f'exit {code}'}" + (f"\n{text}" if text else ""))
        if code & 2:  # bit 2 = errors (4 = warnings, 8 = informational)
            raise PackageError("cfn-lint found errors in the template")
        summary["lint_exit"] = code
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod", help="a stage of .chalice/config.json (default prod)")
    parser.add_argument("--out", default=str(ROOT / "build" / "package"))
    parser.add_argument("--no-lint", action="store_true")
    args = parser.parse_args(argv)
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    if args.stage not in stages:
        parser.error(f"unknown stage {args.stage!r}; .chalice/config.json has {sorted(stages)}")
    try:
        build(args.stage, Path(args.out), run_lint=not args.no_lint)
    except (PackageError, template.TemplateError) as e:
        print(f"infra/package.sh: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
