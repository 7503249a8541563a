"""Structured logging through Powertools Logger: one JSON object per line on stderr (CloudWatch
Logs reads it as is), INFO in every stage, with the request id and the workspace id of what is
being handled on every line logged while it is handled.

Modules log through ``logging.getLogger("costpilot.<area>")`` as usual: those loggers propagate
to the ``costpilot`` logger, which Powertools gives its JSON handler, so every line is formatted
alike. The keys are kept per thread (contextvars), so the local stack's threads never mix them.

What goes into a log line: ids, statuses, counts, durations. Never request or message bodies,
headers, tokens, passwords or provider keys (tests/app/test_structured_log.py drives a flow full
of them and reads every line).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from functools import cache

from aws_lambda_powertools.logging import Logger

SERVICE = "costpilot"
KEYS = ("request_id", "workspace_id")


@cache
def logger() -> Logger:
    """The service's Powertools Logger (built on first use: nothing is configured at import)."""
    # stderr: Lambda sends it to CloudWatch Logs as it does stdout, and the local stack keeps its own
    # stdout for the banner (a parent reading only the banner would otherwise block the server).
    return Logger(service=SERVICE, level="INFO", use_rfc3339=True, name="%(name)s", stream=sys.stderr)


@contextlib.contextmanager
def context(request_id: str | None, workspace_id: str | None = None) -> Iterator[None]:
    """Every line logged inside carries ``request_id`` and ``workspace_id`` (when known)."""
    log = logger()
    log.thread_safe_append_keys(request_id=request_id, workspace_id=workspace_id)
    try:
        yield
    finally:
        log.thread_safe_remove_keys(KEYS)


@contextlib.contextmanager
def workspace(workspace_id: str) -> Iterator[None]:
    """Inside a request's context: the lines logged inside name this workspace."""
    log = logger()
    before = log.thread_safe_get_current_keys().get("workspace_id")
    log.thread_safe_append_keys(workspace_id=workspace_id)
    try:
        yield
    finally:
        log.thread_safe_append_keys(workspace_id=before)
