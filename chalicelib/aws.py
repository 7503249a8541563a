"""Lazily created, cached boto3 clients: nothing talks to AWS at import (STYLE.md point 3).

moto must be active before a client exists, and a Lambda cold start pays for every client it
builds, so each is built on first use. `reset()` drops them (tests switch emulations).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib import config


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session(region_name=config.region())


@cache
def client(service: str) -> Any:
    return _session().client(service)


def reset() -> None:
    client.cache_clear()
    _session.cache_clear()
