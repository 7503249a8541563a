"""Rebuild a workspace's rollups from its records: `python -m chalicelib.tools.rebuild_rollups WS [WS ...]`.

For repairs. Rollups are maintained incrementally in the same transaction as the records, so a
rebuild should change nothing; the command reports whether it did. Pause writers first (a write
landing during the rebuild would be overwritten).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.tools.rebuild_rollups", description=__doc__)
    parser.add_argument("workspaces", nargs="+", help="workspace ids")
    args = parser.parse_args(argv)
    from chalicelib.store import usage
    from chalicelib.store.rollup_layout import LEVELS as levels

    for workspace_id in args.workspaces:
        before = {level: usage.stored_rollups(workspace_id, *level) for level in levels}
        days = usage.rebuild_rollups(workspace_id)
        changed = [f"{g}{p}" for (g, p) in levels if usage.stored_rollups(workspace_id, g, p) != before[(g, p)]]
        status = "unchanged" if not changed else "REPAIRED " + ",".join(changed)
        print(f"{workspace_id}: {days} days rebuilt from records; rollups {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
