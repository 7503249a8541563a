"""Recount a workspace's plan-limit counters: `python -m chalicelib.tools.rebuild_counters WS [WS ...]`.

For repairs. Counters change in the same transaction as what they count, so a rebuild should
change nothing; the command prints each counter's value before and after. Pause writers first.
"""

from __future__ import annotations

import argparse
import sys

from chalicelib.services import counters
from chalicelib.store.identity import Workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.tools.rebuild_counters", description=__doc__)
    parser.add_argument("workspaces", nargs="+", help="workspace ids")
    args = parser.parse_args(argv)

    for workspace_id in args.workspaces:
        workspace = Workspace.get(workspace_id, consistent_read=True)
        before = {c.limit.value: getattr(workspace, c.attribute) for c in counters.COUNTERS.values()}
        after = counters.rebuild_all(workspace_id)
        changes = [f"{k} {before[k]} -> {v}" for k, v in after.items() if before[k] != v]
        print(f"{workspace_id}: counters {'unchanged' if not changes else 'REPAIRED ' + ', '.join(changes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
