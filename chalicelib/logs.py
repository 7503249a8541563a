"""Structured logging: one JSON-ish line per event, INFO in every stage. Secrets never reach a log
call: handlers log ids and statuses, never bodies, headers or credentials."""

from __future__ import annotations

import logging


def configure_logging(app) -> None:
    root = logging.getLogger("costpilot")
    root.setLevel(logging.INFO)
    app.log.setLevel(logging.INFO)
