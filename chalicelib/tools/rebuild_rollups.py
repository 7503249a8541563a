"""Rebuild a workspace's rollups from its records: `python -m chalicelib.tools.rebuild_rollups WS [WS ...]`.

For repairs. Rollups are maintained incrementally in the same transaction as the records, so a
rebuild should change nothing; the command reports whether it did. Pause writers first (a write
landing during the rebuild would be overwritten).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.tools.rebuild_rollups", description=__doc__)
    parser.add_argument("workspaces", nargs="+", help="workspace ids")
    args = parser.parse_args(argv)
    from chalicelib.store import usage
    from chalicelib.store.rollup_layout import LEVELS as levels

    def stored(workspace_id: str) -> dict[str, dict]:
        rows = {f"{g}{p}": usage.stored_rollups(workspace_id, g, p) for g, p in levels}
        return rows | {"ph": usage.hourly_rows(workspace_id, date.min, date.max)}

    for workspace_id in args.workspaces:
        before = stored(workspace_id)
        days = usage.rebuild_rollups(workspace_id)
        after = stored(workspace_id)
        changed = [name for name in before if after[name] != before[name]]
        status = "unchanged" if not changed else "REPAIRED " + ",".join(changed)
        print(f"{workspace_id}: {days} days rebuilt from records; rollups {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
