"""Static assets with content-hashed names, so browsers may cache them for a year.

Every file under ``static/`` and ``vendor/`` is served as ``/static/<stem>.<hash>.<ext>``. The app's
ES modules import each other as ``./name.js``; those specifiers are rewritten to the imported file's
hashed name before hashing, so a change anywhere changes the hash of every module that reaches it.
The HTML shell names assets as ``{{asset:name}}`` and gets their hashed URLs. Computed once per
process, on first use (never at import).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FOLDERS = (ROOT / "static", ROOT / "vendor")
PREFIX = "/static/"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml"}
_IMPORT = re.compile(r"""((?:\bfrom|\bimport)\s*\(?\s*["'])\./([\w-]+\.js)(["'])""")
_PLACEHOLDER = re.compile(r"\{\{asset:([\w.-]+)\}\}")


@dataclass(frozen=True)
class Asset:
    name: str
    file_name: str
    body: str
    content_type: str

    @property
    def url(self) -> str:
        return PREFIX + self.file_name


def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in FOLDERS:
        for path in sorted(folder.iterdir()):
            if path.suffix in TYPES:
                if path.name in found:
                    raise ValueError(f"two assets named {path.name}")
                found[path.name] = path
    return found


def _hashed(name: str, body: str) -> str:
    digest = hashlib.sha256(body.encode()).hexdigest()[:12]
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{digest}.{ext}"


@lru_cache(maxsize=1)
def manifest() -> dict[str, Asset]:
    """Logical name -> asset, with import specifiers already pointing at hashed names."""
    sources = _sources()
    done: dict[str, Asset] = {}

    def build(name: str, trail: tuple[str, ...]) -> Asset:
        if name in done:
            return done[name]
        if name in trail:
            raise ValueError(f"import cycle: {' -> '.join((*trail, name))}")
        if name not in sources:
            raise ValueError(f"{trail[-1] if trail else '?'} imports missing ./{name}")
        text = sources[name].read_text(encoding="utf-8")
        if name.endswith(".js") and sources[name].parent.name == "static":
            text = _IMPORT.sub(lambda m: m.group(1) + "./" + build(m.group(2), (*trail, name)).file_name + m.group(3),
                               text)
        asset = Asset(name, _hashed(name, text), text, TYPES[sources[name].suffix])
        done[name] = asset
        return asset

    for name in sources:
        build(name, ())
    return done


@lru_cache(maxsize=1)
def _by_file_name() -> dict[str, Asset]:
    return {a.file_name: a for a in manifest().values()}


def find(file_name: str) -> Asset | None:
    """The asset served at ``/static/<file_name>``, if that exact hashed name is current."""
    return _by_file_name().get(file_name)


@lru_cache(maxsize=1)
def index_html() -> str:
    """The HTML shell every page route answers, with hashed asset URLs."""
    template = (ROOT / "index.html").read_text(encoding="utf-8")
    assets = manifest()
    return _PLACEHOLDER.sub(lambda m: assets[m.group(1)].url, template)
