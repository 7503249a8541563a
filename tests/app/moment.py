"""The moment an app test's events are pushed at, taken when the test starts (never at import).

The app runs on the real clock, so these tests push events a few minutes back and ask for that
time's UTC day: a run that crosses midnight (or collects long before it runs) still finds them."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def pin(monkeypatch: pytest.MonkeyPatch, namespace: MutableMapping[str, Any], time_name: str, day_name: str,
        minutes_back: int) -> None:
    """Sets ``namespace[time_name]`` to now less ``minutes_back`` minutes (whole seconds) and
    ``namespace[day_name]`` to its UTC day (``YYYY-MM-DD``), for the test's duration."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_back)
    monkeypatch.setitem(namespace, time_name, at)
    monkeypatch.setitem(namespace, day_name, at.date().isoformat())
