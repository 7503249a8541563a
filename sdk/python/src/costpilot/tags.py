"""``with costpilot.tags(feature="search", customer="acme"):`` attributes what is recorded inside.

Tags live in a ``contextvars.ContextVar``, so they follow threads' and asyncio tasks' own context:
nested blocks add to (and override) the outer ones and are undone on exit.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_EMPTY: Mapping[str, str] = {}
_TAGS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("costpilot_tags", default=_EMPTY)


@contextmanager
def tags(feature: str | None = None, customer: str | None = None,
         project: str | None = None) -> Iterator[Mapping[str, str]]:
    """Feature, customer and project for every event recorded in the block (explicit args win)."""
    merged: dict[str, str] = dict(_TAGS.get())
    for key, value in (("feature", feature), ("customer", customer), ("project", project)):
        if value is not None:
            merged[key] = value
    token = _TAGS.set(merged)
    try:
        yield merged
    finally:
        _TAGS.reset(token)


def current_tags() -> Mapping[str, str]:
    return _TAGS.get()
