"""Prints the gzipped weight of the JS and CSS the dashboard's first screen loads (every asset the
HTML shell names, plus the modules they import): `.venv/bin/python -m bench.dashboard_weight`."""

from __future__ import annotations

import gzip
import re

from chalicelib.web import assets


def loaded() -> list[assets.Asset]:
    by_file = {a.file_name: a for a in assets.manifest().values()}
    todo = re.findall(r'(?:src|href)="/static/([^"]+)"', assets.index_html())
    seen: dict[str, assets.Asset] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = by_file[name]
        todo += re.findall(r'from "\./([^"]+)"', seen[name].body)
    return [a for a in seen.values() if a.name.endswith((".js", ".css"))]


def main() -> None:
    files = loaded()
    raw = sum(len(a.body.encode()) for a in files)
    packed = sum(len(gzip.compress(a.body.encode(), 9)) for a in files)
    for a in sorted(files, key=lambda a: -len(a.body)):
        print(f"  {a.name:22} {len(a.body.encode()) / 1024:6.1f} KB  "
              f"{len(gzip.compress(a.body.encode(), 9)) / 1024:5.1f} KB gz")
    print(f"first screen: {len(files)} files, {raw / 1024:.1f} KB, {packed / 1024:.1f} KB gzipped "
          "(each file gzipped alone)")


if __name__ == "__main__":
    main()
