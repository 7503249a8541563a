"""Pushed events: stored once per id and workspace, counted against the month's quota, in the
transaction that writes their chunks and rollups (``store/usage.py``).

Per transaction (usually a whole batch): one chunk and one fine-rows item per day, the merged
rollup delta on the provider-side items with each day's version, 4 id index items (about 10
bytes an id) (``store/event_ids.py``) with the index version, and the ``quota#<YYYY-MM>`` counter.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import rollup
from chalicelib.domain.usage import UsageRecord
from chalicelib.store import event_ids, record_codec, usage
from chalicelib.store.usage import ConcurrentUpdate, records_table

_ID_ITEMS = event_ids.BUCKETS + 2  # index buckets, the index version and the quota counter, per transaction


def quota_key(month: str) -> str:
    """The counter of events written in ``month`` (YYYY-MM of the write, not of the events)."""
    return f"quota#{month}"


class QuotaExceeded(Exception):
    """Storing the fresh events would pass the month's quota; nothing of them was written."""

    def __init__(self, used: int, adding: int):
        super().__init__(f"{used} events stored this month; {adding} more would pass the quota")
        self.used, self.adding = used, adding


def events_written(workspace_id: str, month: str) -> int:
    key = {"pk": {"S": workspace_id}, "sk": {"S": quota_key(month)}}
    item = usage._db().get_item(TableName=records_table(), Key=key, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item and "n" in item else 0


def _stored_ids(workspace_id: str, buckets: Iterable[str]) -> set[bytes]:
    """The fingerprints stored in these buckets of the id index (old per-id markers included)."""
    found: set[bytes] = set()
    for name in sorted(set(buckets)):
        low, high = event_ids.bucket_range(name)
        for item in usage.between(records_table(), workspace_id, low, high, ProjectionExpression="sk, h",
                                   ConsistentRead=True):
            found |= event_ids.stored_fingerprints(item["sk"]["S"], item.get("h", {}).get("B"))
    return found


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)  # idempotency ids
    duplicates: list[str] = field(default_factory=list)


def add_events(workspace_id: str, events: list[UsageRecord], *, quota: int | None = None,
               month: str | None = None) -> IngestResult:
    """Stores pushed events whose id this workspace has not stored before, whatever their day.

    The ids of the events stored go to the id index in the transaction that writes them, which
    also adds 1 to the index version under the condition that it is what was read before the
    index: an id is stored once even across days and concurrent writers. Every stored event adds
    to the counter of ``month`` (the write's UTC month, default now) in the same transaction,
    under ``n <= quota - adding`` when a ``quota`` is given: ``QuotaExceeded`` when the fresh
    events do not fit. Rollup deltas are merged per transaction (usually the whole batch).
    """
    month = month or time.strftime("%Y-%m", time.gmtime())
    result = IngestResult()
    pending: dict[bytes, UsageRecord] = {}
    for event in events:
        fp = event_ids.fingerprint(event.idempotency_id)
        if fp in pending:
            result.duplicates.append(event.idempotency_id)
        else:
            pending[fp] = event
    for _ in range(usage.MAX_ATTEMPTS):
        version = usage.version_of(records_table(), workspace_id, event_ids.VERSION_KEY)
        stored = _stored_ids(workspace_id, map(event_ids.bucket, pending))
        result.duplicates += [e.idempotency_id for fp, e in pending.items() if fp in stored]
        pending = {fp: e for fp, e in pending.items() if fp not in stored}
        if not pending:
            return result
        if quota is not None:
            used = events_written(workspace_id, month)
            if used + len(pending) > quota:
                raise QuotaExceeded(used, len(pending))
        for group in _transaction_groups(pending):
            if not usage.transact(_event_items(workspace_id, group, version, quota, month)):
                break  # someone stored some of these ids, changed a day, or used the quota: look again
            version = (version or 0) + 1
            result.accepted += [e.idempotency_id for e in group.values()]
            for fp in group:
                del pending[fp]
        else:
            return result
    raise ConcurrentUpdate(f"{workspace_id}: too many concurrent writers")


def _transaction_groups(pending: dict[bytes, UsageRecord]) -> list[dict[bytes, UsageRecord]]:
    """The events split by whole days into groups whose items fit one transaction."""
    by_day: dict[str, dict[bytes, UsageRecord]] = {}
    for fp, event in pending.items():
        by_day.setdefault(event.day, {})[fp] = event
    groups: list[dict[bytes, UsageRecord]] = []
    current: dict[bytes, UsageRecord] = {}
    items, months = _ID_ITEMS, set()
    for day, day_events in sorted(by_day.items()):
        cost = 2 * len(usage.chunks(list(day_events.values()))) + 3 + (3 if day[:7] not in months else 0)
        if current and items + cost > usage.MAX_TRANSACTION_ITEMS:
            groups.append(current)
            current, items, months = {}, _ID_ITEMS, set()
            cost = 2 * len(usage.chunks(list(day_events.values()))) + 6
        current.update(day_events)
        items += cost
        months.add(day[:7])
    if current:
        groups.append(current)
    return groups


def _event_items(workspace_id: str, group: dict[bytes, UsageRecord], version: int | None, quota: int | None,
                 month: str) -> list[dict]:
    """One transaction: the events' chunks and fine rows per day, their merged rollup delta with
    each day's version, their id index items and version, and the quota counter."""
    by_day: dict[str, list[tuple[bytes, UsageRecord]]] = {}
    for fp, event in group.items():
        by_day.setdefault(event.day, []).append((fp, event))
    items, versions = [], {}
    for day, day_events in sorted(by_day.items()):
        versions[day] = usage._day_version(workspace_id, day)
        fps = {id(e): fp for fp, e in day_events}
        for chunk in usage.chunks([e for _, e in day_events]):
            batch = hashlib.sha256(b"".join(sorted(fps[id(e)] for e in chunk))).hexdigest()[:24]
            items.append({"Put": {
                "TableName": records_table(),
                "Item": {"pk": {"S": workspace_id}, "sk": {"S": f"rec#{day}#push#{batch}"},
                         "blob": {"B": record_codec.encode(chunk)}, "n": {"N": str(len(chunk))}},
                "ConditionExpression": "attribute_not_exists(pk)"}})
            items.append(usage.fine_put(workspace_id, day, f"push#{batch}", chunk))
    items += usage.rollup_updates(workspace_id, rollup.delta((), group.values()), versions)
    for sk, packed in event_ids.index_items(group).items():
        items.append({"Put": {"TableName": records_table(),
                              "Item": {"pk": {"S": workspace_id}, "sk": {"S": sk}, "h": {"B": packed}},
                              "ConditionExpression": "attribute_not_exists(pk)"}})
    items.append({"Update": usage.versioned({"TableName": records_table(), "Key": {
        "pk": {"S": workspace_id}, "sk": {"S": event_ids.VERSION_KEY}}, "UpdateExpression": "",
        "ExpressionAttributeNames": {}, "ExpressionAttributeValues": {}}, version)})
    items.append(_quota_update(workspace_id, month, len(group), quota))
    return items


def _quota_update(workspace_id: str, month: str, adding: int, quota: int | None) -> dict:
    update: dict[str, Any] = {
        "TableName": records_table(), "Key": {"pk": {"S": workspace_id}, "sk": {"S": quota_key(month)}},
        "UpdateExpression": "ADD #n :k", "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":k": {"N": str(adding)}}}
    if quota is not None:
        update["ConditionExpression"] = "attribute_not_exists(#n) OR #n <= :room"
        update["ExpressionAttributeValues"][":room"] = {"N": str(quota - adding)}
    return {"Update": update}
