"""Bodies of the non-HTTP Lambda handlers, kept out of app.py so it only wires."""

from __future__ import annotations


def scheduled_sync(event) -> dict:
    from chalicelib.services import sync

    return {"enqueued": sync.enqueue_due()}


def sync_worker(event) -> dict:
    from chalicelib.services import sync

    return sync.handle_messages(event)
