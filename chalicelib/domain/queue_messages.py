"""The bodies of the SQS messages CostPilot sends itself, as pydantic models.

Producers send plain JSON objects (``adapters.queues.send``); the handlers in chalicelib/handlers.py
parse each record's body with its model. A body that does not parse is malformed: it is logged and
dropped, never retried (a retry would fail the same way). Unknown fields are ignored, so a
producer may add one before the consumer reads it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    workspace_id: Id


class SyncRequest(Message):
    """Sync one connection now (the scheduler, "sync now", a replaced key)."""

    connection_id: Id
    reason: str = ""
    key_action: str = ""  # set: run this recorded key action (disable/enable an API key) instead of a sync


class EvaluationRequest(Message):
    """Evaluate a workspace's alerts (new usage, a rejected key, or the sweep)."""

    source: str = ""

    @property
    def from_sweep(self) -> bool:
        return "sweep" in self.source


class DeliveryRetry(Message):
    """Retry the failed deliveries of one firing."""

    firing_key: Id
