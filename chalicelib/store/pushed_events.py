"""Pushed events: stored once per id and workspace, counted against the month's quota, in the
transaction that writes their chunks and rollups (``store/usage.py``).

Per transaction (usually a whole batch): the fine-rows item of each record chunk (the chunks
themselves are put just before, see ``_put_chunks``), the merged rollup delta on the
provider-side items (day, month, and the hourly items of the events' hours) with each day's
version, 2 id index items (10 bytes an id) (``store/event_ids.py``) with the index version, and
the ``quota#<YYYY-MM>`` counter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import rollup
from chalicelib.domain.usage import UsageRecord
from chalicelib.store import event_ids, record_codec, usage
from chalicelib.store import rollup_layout as layout
from chalicelib.store.usage import ConcurrentUpdate, records_table

_ID_ITEMS = event_ids.BUCKETS + 2  # index buckets, the index version and the quota counter, per transaction
_DAY_ITEMS = sum(layout.SHARDS.values())  # the provider-side items of a day (its hourly items come on top)
_MONTH_ITEMS = sum(layout.SHARDS.values())


def quota_key(month: str) -> str:
    """The counter of events written in ``month`` (YYYY-MM of the write, not of the events)."""
    return f"quota#{month}"


class QuotaExceeded(Exception):
    """Storing the fresh events would pass the month's quota; nothing of them was written."""

    def __init__(self, used: int, adding: int):
        super().__init__(f"{used} events stored this month; {adding} more would pass the quota")
        self.used, self.adding = used, adding


def month_of(now: datetime) -> str:
    """The month a write at ``now`` counts against (YYYY-MM, UTC)."""
    return now.astimezone(UTC).strftime("%Y-%m")


def events_this_month(workspace_id: str, now: datetime) -> int:
    """Pushed events written in ``now``'s UTC month (what the plan's quota counts)."""
    return events_written(workspace_id, month_of(now))


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
            chunks = _put_chunks(workspace_id, group)
            # a cancelled transaction wrote nothing: its chunks go. After an error it may have
            # committed (a lost response), so they stay (an uncommitted one is never read anyway).
            if not usage.transact(_event_items(workspace_id, group, chunks, version, quota, month)):
                _drop(workspace_id, chunks)
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
        hourly = {layout.hourly_item(key.day) for key in map(rollup.hourly_key, day_events.values()) if key}
        own = len(usage.chunks(list(day_events.values()))) + _DAY_ITEMS + len(hourly)
        cost = own + (_MONTH_ITEMS if day[:7] not in months else 0)
        if current and items + cost > usage.MAX_TRANSACTION_ITEMS:
            groups.append(current)
            current, items, months = {}, _ID_ITEMS, set()
            cost = own + _MONTH_ITEMS
        current.update(day_events)
        items += cost
        months.add(day[:7])
    if current:
        groups.append(current)
    return groups


def _put_chunks(workspace_id: str, group: dict[bytes, UsageRecord]) -> dict[str, list[UsageRecord]]:
    """Writes the group's record chunks ahead of its transaction, as plain puts (half the write
    units of a transactional put, and chunks are most of a batch's bytes); returns them by sort key.

    A chunk counts only once its transaction has committed its fine-rows twin
    (``af#<day>#push#<id>``, see ``usage.records``), so a chunk left by a failed transaction is
    never read. Its id is new on every attempt, so a put never replaces another writer's chunk
    and ``_drop`` removes only this attempt's (a concurrent copy of the batch may commit its own).
    """
    by_day: dict[str, list[UsageRecord]] = {}
    for event in group.values():
        by_day.setdefault(event.day, []).append(event)
    written: dict[str, list[UsageRecord]] = {}
    for day, day_events in sorted(by_day.items()):
        for chunk in usage.chunks(day_events):
            blob = record_codec.encode(chunk)
            sk = f"rec#{day}#push#{uuid.uuid4().hex[:24]}"
            usage._db().put_item(TableName=records_table(), Item={
                "pk": {"S": workspace_id}, "sk": {"S": sk}, "blob": {"B": blob}, "n": {"N": str(len(chunk))}})
            written[sk] = chunk
    return written


def _drop(workspace_id: str, chunks: dict[str, list[UsageRecord]]) -> None:
    """Deletes the chunks of a transaction that did not commit (never read either way)."""
    for sk in chunks:
        usage._db().delete_item(TableName=records_table(), Key={"pk": {"S": workspace_id}, "sk": {"S": sk}})


def _event_items(workspace_id: str, group: dict[bytes, UsageRecord], chunks: dict[str, list[UsageRecord]],
                 version: int | None, quota: int | None, month: str) -> list[dict]:
    """One transaction: the fine rows of each chunk (which commit it), the merged rollup delta
    with each day's version, the id index items and version, and the quota counter."""
    items = []
    for sk, chunk in chunks.items():
        _, day, chunk_id = sk.split("#", 2)
        items.append(usage.fine_put(workspace_id, day, chunk_id, chunk))
    versions = {day: usage._day_version(workspace_id, day) for day in sorted({e.day for e in group.values()})}
    items += usage.rollup_updates(workspace_id, (), group.values(), versions)
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
