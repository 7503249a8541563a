"""Deployment package figures: zip size, and the cold import of the packaged API handler as a ratio
to a bare ``import boto3`` measured in the same run.

Cold as on Lambda: the zip is extracted as shipped (with the bytecode ``infra/bytecode.py`` adds
for the cold-start modules, nothing else) and every import runs with ``-B`` (no ``__pycache__``
written: /var/task is read-only), in a clean interpreter (``-I -S``) whose path is the package and
then what the python3.12 runtime provides (boto3, botocore and their dependencies, linked from the
venv). Each sample is a fresh process; the figure is the median of ``--rounds`` samples taken
alternately, so machine noise hits both sides alike. Interpreter start-up is excluded: the timer
brackets the import statement only. For comparison, the same import with the shipped bytecode
deleted (what a zip without it costs) is printed too.

    .venv/bin/python bench/package_bench.py            # packages first if build/package is missing
    .venv/bin/python bench/package_bench.py --rounds 15 --importtime 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.bytecode import function_env, lambda_runtime

TIMER = """
import sys, time
sys.path[:0] = sys.argv[1:3]
statement = sys.argv[3]
t0 = time.perf_counter()
exec(statement)
print(time.perf_counter() - t0)
"""


def sample(task: Path, runtime: Path, statement: str, env: dict[str, str]) -> float:
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", TIMER, str(task), str(runtime), statement],
                            env=env, cwd=task, capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def importtime(task: Path, runtime: Path, env: dict[str, str], top: int) -> list[tuple[int, str]]:
    result = subprocess.run([sys.executable, "-I", "-S", "-B", "-X", "importtime", "-c",
                             f"import sys; sys.path[:0] = {[str(task), str(runtime)]!r}; import app"],
                            env=env, cwd=task, capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            if name.startswith("   ") and not name.startswith("    "):  # direct imports of app.py
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package-dir", default=str(ROOT / "build" / "package"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--importtime", type=int, default=0, metavar="N",
                        help="also print the N slowest top-level imports of app.py")
    args = parser.parse_args()
    package_dir = Path(args.package_dir)
    if not (package_dir / "deployment.zip").exists():
        from infra import package

        package.build("prod", package_dir, run_lint=False)
    zip_path = package_dir / "deployment.zip"
    template = json.loads((package_dir / "sam.json").read_text())
    with zipfile.ZipFile(zip_path) as z:
        unzipped_bytes = sum(i.file_size for i in z.infolist())
        with tempfile.TemporaryDirectory() as tmp:
            task = Path(tmp) / "task"
            z.extractall(task)
            shipped_pyc = sum(1 for _ in task.rglob("*.pyc"))
            source_only = Path(tmp) / "source-only"
            z.extractall(source_only)
            for pyc in source_only.rglob("*.pyc"):
                pyc.unlink()
            runtime = lambda_runtime(Path(tmp) / "runtime")
            env = function_env(template, "app.app")
            sample(task, runtime, "import app", env)  # warms the OS file cache, not Python's
            sample(source_only, runtime, "import app", env)
            app_times, boto_times, source_times = [], [], []
            for _ in range(args.rounds):
                app_times.append(sample(task, runtime, "import app", env))
                boto_times.append(sample(task, runtime, "import boto3", env))
                source_times.append(sample(source_only, runtime, "import app", env))
            slowest = importtime(task, runtime, env, args.importtime) if args.importtime else []
    app_ms, boto_ms = statistics.median(app_times) * 1000, statistics.median(boto_times) * 1000
    source_ms = statistics.median(source_times) * 1000
    print(f"deployment.zip              {zip_path.stat().st_size / 2**20:6.1f} MiB "
          f"({unzipped_bytes / 2**20:.0f} MiB extracted; aim <= 35 MiB)")
    print(f"cold import boto3 (median)  {boto_ms:6.0f} ms  (min {min(boto_times) * 1000:.0f})")
    print(f"cold import app   (median)  {app_ms:6.0f} ms  (min {min(app_times) * 1000:.0f}; API handler app.app)")
    print(f"ratio app / boto3           {app_ms / boto_ms:6.2f} x   (aim <= 1.5x; {args.rounds} rounds, "
          f"-I -S -B, the zip's {shipped_pyc} bytecode files)")
    print(f"without the zip's bytecode  {source_ms:6.0f} ms  = {source_ms / boto_ms:.2f} x boto3 "
          "(every module compiled from source)")
    for cumulative, name in slowest:
        print(f"  {cumulative / 1000:6.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
