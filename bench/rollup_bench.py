"""How long rollup.rebuild takes over a million tiny events (a figure to watch, not a test).

    python -m bench.rollup_bench            # 1,000 distinct events seen 1,000 times each
    python -m bench.rollup_bench --repeat 3 # best of three

Prints the wall time of one rebuild and the events per second; the total is checked exact.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.domain import rollup
from chalicelib.domain.usage import RecordKind, UsageRecord

T0 = datetime(2025, 3, 10, tzinfo=UTC)


def templates(n: int = 1000) -> list[UsageRecord]:
    tiny = Decimal("0.0000137")
    return [
        UsageRecord(workspace_id="ws_1", kind=RecordKind.EVENT, source="push:cpk_live_abc", provider="openai",
                    bucket_start=T0 + timedelta(seconds=i), bucket_end=T0 + timedelta(seconds=i + 1),
                    model="gpt-4o-mini", unit_type="tokens", units=Decimal(i % 7), idempotency_id=f"e{i}",
                    customer=f"c{i % 10}", estimated_cost=tiny + Decimal(i).scaleb(-10))
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    events = templates()
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        rows = rollup.rebuild(itertools.chain.from_iterable(itertools.repeat(events, 1000)))
        best = min(best, time.perf_counter() - started)
    total = sum((v.estimated for v in rows.values()), Decimal(0))
    assert total == Decimal("13.7499500"), total
    print(f"rollup.rebuild of 1,000,000 events: {best:.2f} s ({1_000_000 / best:,.0f} events/s), "
          f"{len(rows)} rollup rows, total {total} (exact); cpus={os.cpu_count()}")


if __name__ == "__main__":
    main()
