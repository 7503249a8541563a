"""The workspace's precomputed budget states (one small item), read by ``GET /api/budget-status``.

It lives in the alert-markers table (the per-workspace small items) under the marker
``budget-status``, so workspace deletion removes it with the other markers and no table is added.
``read_with_key`` fetches it together with the caller's ingest key in one BatchGetItem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib import aws
from chalicelib.store.base import BaseModel, is_condition_failure, table_meta
from chalicelib.store.ingest_keys import IngestKey

MARKER = "budget-status"
_KEY_FIELDS = "key_id, workspace_id, key_hash, revoked_at"
_MAX_ROUNDS = 4  # BatchGetItem may leave keys unprocessed under throttling: ask again for those


class BudgetStatus(BaseModel):
    Meta = table_meta("alert-markers")
    workspace_id = UnicodeAttribute(hash_key=True)
    marker = UnicodeAttribute(range_key=True, default=MARKER)
    as_of = NumberAttribute(default=0)  # unix microseconds of the evaluation that wrote it
    budgets = JSONAttribute(default=list)  # domain.budget_status.entry() per active budget alert


@dataclass(frozen=True)
class KeyFacts:
    """What authenticating an ingest key needs of its item."""

    key_id: str
    workspace_id: str
    key_hash: str
    revoked: bool


def write(workspace_id: str, as_of_micros: int, budgets: list[dict[str, Any]]) -> bool:
    """Stores the states unless a later evaluation already did (concurrent evaluators: the one
    that started last read the latest usage). Returns False when it lost that race."""
    item = BudgetStatus(workspace_id, MARKER, as_of=as_of_micros, budgets=budgets)
    try:
        item.save(condition=BudgetStatus.as_of.does_not_exist() | (BudgetStatus.as_of <= as_of_micros))
    except PutError as e:
        if is_condition_failure(e):
            return False
        raise
    return True


def read_key(key_id: str) -> KeyFacts | None:
    """The ingest key alone (a caller whose workspace is not known yet): one GetItem."""
    got = aws.client("dynamodb").get_item(TableName=IngestKey.Meta.table_name, Key={"key_id": {"S": key_id}},
                                          ConsistentRead=True, ProjectionExpression=_KEY_FIELDS)
    return _key_facts(got.get("Item"))


def read_with_key(key_id: str, workspace_id: str) -> tuple[KeyFacts | None, list[dict[str, Any]]]:
    """The ingest key and the workspace's budget states, both strongly consistent, in one
    BatchGetItem (a further one only for keys DynamoDB left unprocessed)."""
    keys_table, status_table = IngestKey.Meta.table_name, BudgetStatus.Meta.table_name
    wanted: dict[str, Any] = {
        keys_table: {"Keys": [{"key_id": {"S": key_id}}], "ConsistentRead": True,
                     "ProjectionExpression": _KEY_FIELDS},
        status_table: {"Keys": [{"workspace_id": {"S": workspace_id}, "marker": {"S": MARKER}}],
                       "ConsistentRead": True},
    }
    found: dict[str, list[dict]] = {keys_table: [], status_table: []}
    for _ in range(_MAX_ROUNDS):
        got = aws.client("dynamodb").batch_get_item(RequestItems=wanted)
        for table, items in got.get("Responses", {}).items():
            found[table] += items
        wanted = got.get("UnprocessedKeys") or {}
        if not wanted:
            break
    else:
        raise RuntimeError("DynamoDB left the budget status unprocessed; try again")
    status = found[status_table]
    budgets = BudgetStatus.from_raw_data(status[0]).budgets if status else []
    return _key_facts(found[keys_table][0] if found[keys_table] else None), list(budgets or [])


def _key_facts(item: dict | None) -> KeyFacts | None:
    if not item:
        return None
    return KeyFacts(item["key_id"]["S"], item["workspace_id"]["S"], item["key_hash"]["S"],
                    "revoked_at" in item and "NULL" not in item["revoked_at"])
