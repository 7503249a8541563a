"""Memory of argon2id password hashing, and the Lambda memory setting it needs.

    python -m bench.password_bench              # the production parameters (chalicelib.config)
    python -m bench.password_bench --burst 16   # threads hashing at once in the burst scenarios

Each scenario runs in a fresh interpreter and reports the growth of its peak resident set
(ru_maxrss) over the interpreter with the app imported: one hash alone, then a burst of threads
through chalicelib.services.passwords with the process cap (COSTPILOT_ARGON2_CONCURRENCY) and with
the cap lifted to the burst size. The Lambda figure is the app's resident set plus ``cap`` hashes
at once, with 25% headroom, rounded up to 64 MB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SCENARIO = r"""
import json, os, resource, sys, threading, time
sys.path.insert(0, {root!r})
os.environ.setdefault("COSTPILOT_STAGE", "bench")
import app  # noqa: F401  the Lambda's handler module, as a cold start imports it
# what a login loads
import chalicelib.api.auth_routes, chalicelib.services.accounts, chalicelib.services.workspaces  # noqa: E401,F401
from chalicelib.services import passwords
passwords._hasher()
passwords.hash_password("warm up the allocator once!")  if {warm} else None
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
threads = [threading.Thread(target=passwords.hash_password, args=(f"password number {{i}}",)) for i in range({n})]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"base_kib": base, "peak_kib": peak, "seconds": elapsed}}))
"""


def run(n: int, cap: int, *, warm: bool = False) -> dict:
    env = {**os.environ, "COSTPILOT_ARGON2_CONCURRENCY": str(cap)}
    for name in ("COSTPILOT_ARGON2_TIME_COST", "COSTPILOT_ARGON2_MEMORY_KIB"):
        env.pop(name, None)  # the production parameters, not the tests' cheap ones
    code = _SCENARIO.format(root=str(ROOT), n=n, warm=warm)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=16)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    for name in ("COSTPILOT_ARGON2_TIME_COST", "COSTPILOT_ARGON2_MEMORY_KIB"):
        os.environ.pop(name, None)
    from chalicelib import config

    params = config.password_hash_params()
    cap = config.password_hash_concurrency()

    def mib(kib: float) -> float:
        return kib / 1024

    one = run(1, 1)
    per_hash = mib(one["peak_kib"] - one["base_kib"])
    capped = run(args.burst, cap)
    uncapped = run(args.burst, args.burst)
    app_rss = mib(one["base_kib"])
    need = (app_rss + cap * params["memory_cost"] / 1024) * 1.25
    setting = int(math.ceil(need / 64) * 64)
    print(f"argon2id t={params['time_cost']} m={params['memory_cost']} KiB p={params['parallelism']}; "
          f"cap {cap} hashes at once per process; cpus={os.cpu_count()}")
    print(f"app and the login path imported (a warm API Lambda's resident set): {app_rss:.0f} MiB")
    print(f"one hash: +{per_hash:.0f} MiB peak, {one['seconds'] * 1000:.0f} ms")
    print(f"burst of {args.burst} with the cap ({cap}): +{mib(capped['peak_kib'] - capped['base_kib']):.0f} MiB peak, "
          f"{capped['seconds']:.2f} s")
    print(f"burst of {args.burst} without a cap: +{mib(uncapped['peak_kib'] - uncapped['base_kib']):.0f} MiB peak, "
          f"{uncapped['seconds']:.2f} s")
    print(f"Lambda memory for the API function: at least {setting} MB "
          f"(({app_rss:.0f} MiB + {cap} x {params['memory_cost'] // 1024} MiB) x 1.25, rounded up to 64 MB)")


if __name__ == "__main__":
    main()
