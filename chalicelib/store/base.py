"""Shared PynamoDB wiring: table names and region come from chalicelib.config."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pynamodb.models import Model

if TYPE_CHECKING:
    from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib import config


def table_meta(logical: str) -> type:
    """A PynamoDB ``Meta`` naming the stage's table declared in infra/resources.json."""

    class Meta:
        table_name = config.resource_name(logical)
        region = config.region()

    return Meta


def utcnow() -> datetime:
    return datetime.now(UTC)


class BaseModel(Model):
    """Base of every table model (kept for shared behaviour, e.g. future tracing)."""

    class Meta:
        abstract = True


def transaction() -> TransactWrite:
    """A write transaction on the stage's region (all-or-nothing, conditions on every item)."""
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite

    return TransactWrite(connection=Connection(region=config.region()))


def read_together() -> TransactGet:
    """A read of several items in one request (TransactGetItems: strongly consistent, all as of one
    moment); ``.get(Model, keys...)`` gives a future whose ``.get()`` raises ``DoesNotExist``."""
    from pynamodb.transactions import TransactGet

    return TransactGet(connection=_read_connection())


@cache
def _read_connection() -> Any:
    from pynamodb.connection import Connection

    return Connection(region=config.region())


def cancelled_by_condition(error: Exception) -> list[bool]:
    """Per transaction item: did its condition fail? (empty if the failure was something else)."""
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [bool(r and r.code == "ConditionalCheckFailed") for r in reasons]


def is_condition_failure(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
