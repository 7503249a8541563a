"""Two fixes to moto's DynamoDB transactions, applied wherever we emulate AWS (tests, local stack).

1. Atomicity: DynamoDB runs TransactWriteItems atomically; moto checks conditions and writes
   without a lock, so two threads (moto's server is threaded) can interleave. A lock restores it.
2. Cost: before every transaction moto deep-copies each table it touches, as a rollback point.
   That is O(table size) per transaction: a 90-day sync against a table of a few thousand items
   took minutes. Here the rollback point is the touched items only, which is what DynamoDB's
   all-or-nothing semantics need.

Nothing in chalicelib knows about this; the app sees DynamoDB's documented behaviour.
"""

from __future__ import annotations

import contextlib
import copy as _copy
import threading
from typing import Any

_LOCK = threading.RLock()
_installed = False


class _NoTableSnapshot:
    """Stands in for ``copy`` inside moto's DynamoDB module: tables are not copied, items are."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            return value
        return _copy.deepcopy(value, memo)


def transaction_lock() -> Any:
    """Held while a transaction runs: whoever reads the backends under it sees none half-applied."""
    return _LOCK


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    models.copy = _NoTableSnapshot  # the only table-level deepcopy in that module is the snapshot

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _LOCK:
            snapshot = _snapshot(self, transact_items)
            try:
                return original(self, transact_items)
            except Exception:
                _restore(self, snapshot)
                raise

    models.DynamoDBBackend.transact_write_items = transact_write_items
    _installed = True


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    try:
        table = backend.get_table(op["TableName"])
    except Exception:  # noqa: BLE001 - an unknown table: moto's own call reports it
        return None
    if op_type != "Put":
        return op.get("Key")
    attrs = op.get("Item", {})
    if table.hash_key_attr not in attrs:
        return None
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None and table.range_key_attr in attrs:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict, Any]]:
    saved = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        key = _key_of(backend, op_type, op)
        if key is None:
            continue
        try:
            item = backend.get_item(op["TableName"], key)
        except Exception:  # noqa: BLE001, S112 - unreadable item: nothing to restore; moto reports the error
            continue
        saved.append((op["TableName"], key, _copy.deepcopy(item.to_json()["Attributes"]) if item else None))
    return saved


def _restore(backend: Any, snapshot: list[tuple[str, dict, Any]]) -> None:
    for table_name, key, attributes in reversed(snapshot):
        if attributes is None:
            with contextlib.suppress(Exception):  # not there is as good as deleted; the caller re-raises
                backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, attributes)
