"""Two collections of the suite, a second apart, name the same tests in the same order.

pytest-xdist collects once per worker and refuses to run when the workers disagree, so a test id
built from the clock (or anything else that changes between two imports) breaks the whole run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collect() -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p", "no:xdist",
         "-p", "no:cacheprovider", "tests"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_two_collections_a_second_apart_have_the_same_ids():
    first = _collect()
    time.sleep(1.1)  # long enough for any second-resolution clock to tick
    second = _collect()
    assert len(first) > 100
    assert first == second, sorted(set(first) ^ set(second))[:20]
