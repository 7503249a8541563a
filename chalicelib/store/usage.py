"""The usage store: record chunks and daily rollups, changed together in one transaction.

Layout (two tables declared in infra/resources.json, both keyed ``pk`` = workspace id, ``sk``):

usage-records
    ``rec#<day>#sync#<connection>``: every record one connection reported for one UTC day, as a
    compressed chunk. A re-sync replaces the whole day for that connection (invariant 2: a
    restated bucket replaces, a vanished one disappears, nothing is added twice).
    ``rec#<day>#push#<batch>``: the new events of one ingest batch for one day.
    ``eid#<sha256 of the event id>``: one marker per pushed event id, whatever its day (dedupe).
    ``quota#<YYYY-MM>``: ``n``, the events written in that UTC month (the plan's quota counts it).
usage-rollups
    ``<grain><period>#<date>#<shard>`` for the provider-side grains ``p`` (provider) and ``m``
    (provider, model, API key, unit type), periods ``d`` (day) and ``m`` (month), in the layout
    of ``domain.rollup``: one number attribute per row and value, changed with ``ADD``. Shards keep
    each update expression small; a Query sums item sizes, so shards cost no extra read units.
    ``pd#<day>#0`` carries ``v``, the day's version.
    ``af#<day>#<chunk>``: the every-dimension grain (project, feature, customer tags included),
    as the compressed rollup rows of one record chunk, written and replaced with its chunk. Tags
    can have thousands of values a day; as shared ADD-updated items they would cost their whole
    size on every write and outgrow the 400 KB item limit, while per-chunk aggregates cost what
    the batch adds. A query of the fine grain reads the day's chunk aggregates.

Every change to a day is one TransactWriteItems: the chunk put, ``ADD`` of the exact delta on the
rollup shards, and ``v = v + 1`` under the condition that ``v`` is what was read. Concurrent
writers of the same day (overlapping ingests, a sync racing a push) therefore serialise: the loser
re-reads and recomputes, so totals stay exact. Chunks and deltas are computed by pure code in
``domain.rollup``; this module only moves them. It uses the low-level client because rollup
attribute names are data (PynamoDB models fixed attributes).
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import aws, config
from chalicelib.domain import rollup
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import UsageRecord
from chalicelib.domain.usage_query import UsageQuery
from chalicelib.store import record_codec

# Shards per grain (domain.rollup.GRAINS): p provider, m provider-side detail, a every dimension.
SHARDS = {"p": 1, "m": 2}
ADDED_GRAINS = ("p", "m")  # maintained with ADD; "a" is stored per chunk (af#...)
FINE = "af"
MAX_ATTEMPTS = 8
_MAX_CHUNK_BYTES = 300_000


class ConcurrentUpdate(Exception):
    """The day kept changing under us; the caller's message will be retried."""


def records_table() -> str:
    return config.resource_name("usage-records")


def rollups_table() -> str:
    return config.resource_name("usage-rollups")


def _db() -> Any:
    return aws.client("dynamodb")


def _num(value: Decimal | int) -> dict:
    return {"N": format(Decimal(value), "f")}


def _shard_count(sort_key: str) -> int:
    return SHARDS[sort_key[0]]


def _rollup_updates(workspace_id: str, day: str, changes: dict[RollupKey, RollupValues], version: int | None,
                    ) -> list[dict]:
    """Update items: ADD the delta on every grain and period item it touches (sharded so each
    update expression stays small), and bump the day's version on the provider-grain day item."""
    per_item: dict[str, dict[str, Decimal]] = {}
    for sort_key, attrs in rollup.item_updates(changes, grains=ADDED_GRAINS).items():
        shards = _shard_count(sort_key)
        for name, amount in attrs.items():
            shard = zlib.crc32(name[1:].encode()) % shards
            per_item.setdefault(f"{sort_key}#{shard}", {})[name] = amount
    guard = f"{rollup.sort_key(day, 'p')}#0"
    per_item.setdefault(guard, {})
    updates = []
    for sk, attrs in sorted(per_item.items()):
        names, values, parts = {}, {}, []
        for i, (name, amount) in enumerate(sorted(attrs.items())):
            names[f"#a{i}"] = name
            values[f":a{i}"] = _num(amount)
            parts.append(f"#a{i} :a{i}")
        update: dict[str, Any] = {"TableName": rollups_table(), "Key": {"pk": {"S": workspace_id}, "sk": {"S": sk}}}
        if sk == guard:
            parts.append("#v :one")
            names["#v"] = "v"
            values[":one"] = {"N": "1"}
            if version is None:
                update["ConditionExpression"] = "attribute_not_exists(#v)"
            else:
                update["ConditionExpression"] = "#v = :seen"
                values[":seen"] = {"N": str(version)}
        update["UpdateExpression"] = "ADD " + ", ".join(parts)
        update["ExpressionAttributeNames"] = names
        update["ExpressionAttributeValues"] = values
        updates.append({"Update": update})
    return updates


def _fine_put(workspace_id: str, day: str, chunk: str, records: list[UsageRecord]) -> dict:
    """The every-dimension rollup rows of one chunk, as one compressed item."""
    rows = sorted([rollup.encode_row_key(k), format(v.billed, "f"), format(v.estimated, "f"),
                   format(v.units, "f"), v.count] for k, v in rollup.rebuild(records).items())
    blob = zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 9)
    return {"Put": {"TableName": rollups_table(), "Item": {
        "pk": {"S": workspace_id}, "sk": {"S": f"{FINE}#{day}#{chunk}"}, "rows": {"B": blob}}}}


def _fine_rows(day: str, blob: bytes) -> dict[RollupKey, RollupValues]:
    return {rollup.decode_row_key(day, key): RollupValues(Decimal(b), Decimal(e), Decimal(u), int(n))
            for key, b, e, u, n in json.loads(zlib.decompress(blob))}


def _day_version(workspace_id: str, day: str) -> int | None:
    item = _db().get_item(
        TableName=rollups_table(), Key={"pk": {"S": workspace_id}, "sk": {"S": f"{rollup.sort_key(day, 'p')}#0"}},
        ProjectionExpression="#v", ExpressionAttributeNames={"#v": "v"}, ConsistentRead=True,
    ).get("Item")
    return int(item["v"]["N"]) if item and "v" in item else None


def _transact(items: list[dict]) -> bool:
    """True if committed; False if a condition failed (someone else changed the day)."""
    db = _db()
    try:
        db.transact_write_items(TransactItems=items)
    except db.exceptions.TransactionCanceledException as e:
        reasons = e.response.get("CancellationReasons", [])
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return False
        if any(r.get("Code") == "TransactionConflict" for r in reasons):
            return False
        raise
    return True


def _chunks(records: list[UsageRecord]) -> list[list[UsageRecord]]:
    """Splits records so each compressed chunk stays well under DynamoDB's 400 KB item limit."""
    if len(records) <= 1 or len(record_codec.encode(records)) <= _MAX_CHUNK_BYTES:
        return [records]
    half = len(records) // 2
    return _chunks(records[:half]) + _chunks(records[half:])


# --- synced records ---------------------------------------------------------------------------


def _sync_sk(day: str, connection_id: str) -> str:
    return f"rec#{day}#sync#{connection_id}"


def replace_sync_day(workspace_id: str, connection_id: str, day: str, records: list[UsageRecord]) -> bool:
    """Makes ``records`` the whole of what ``connection_id`` reported for ``day``.

    Returns True if anything changed. Safe to repeat: the same records change nothing.
    """
    for record in records:
        if record.day != day or record.workspace_id != workspace_id:
            raise ValueError("every record must belong to this workspace and day")
    blob = record_codec.encode(sorted(records, key=lambda r: r.record_key()))
    if len(blob) > _MAX_CHUNK_BYTES:
        raise ValueError(f"{len(records)} records for one connection-day exceed one chunk")
    digest = hashlib.sha256(blob).hexdigest()
    key = {"pk": {"S": workspace_id}, "sk": {"S": _sync_sk(day, connection_id)}}
    for _ in range(MAX_ATTEMPTS):
        version = _day_version(workspace_id, day)
        old_item = _db().get_item(TableName=records_table(), Key=key, ConsistentRead=True).get("Item")
        if old_item and old_item["digest"]["S"] == digest:
            return False
        if not old_item and not records:
            return False
        old = record_codec.decode(workspace_id, old_item["blob"]["B"]) if old_item else []
        changes = _delta(old, records)
        put = {"Put": {"TableName": records_table(), "Item": {
            **key, "blob": {"B": blob}, "digest": {"S": digest}, "n": {"N": str(len(records))},
            "updated_at": {"N": str(int(time.time()))}}}}
        fine = _fine_put(workspace_id, day, f"sync#{connection_id}", records)
        if _transact([put, fine, *_rollup_updates(workspace_id, day, changes, version)]):
            return True
    raise ConcurrentUpdate(f"{workspace_id} {day}: too many concurrent writers")


def _delta(old: Iterable[UsageRecord], new: Iterable[UsageRecord]) -> dict[RollupKey, RollupValues]:
    before = rollup.rebuild(old)
    after = rollup.rebuild(new)
    changes = dict(after)
    for key, values in before.items():
        changes[key] = changes[key] - values if key in changes else -values
    return {k: v for k, v in changes.items() if not v.is_zero()}


# --- pushed events ----------------------------------------------------------------------------

MARKERS_PER_TRANSACTION = 80  # + chunk, fine aggregate, rollup shards, quota: under DynamoDB's 100


def event_marker(idempotency_id: str) -> str:
    """The sort key of an event id's marker: one item per id and workspace, whatever the day."""
    return "eid#" + hashlib.sha256(idempotency_id.encode()).hexdigest()[:32]


def quota_key(month: str) -> str:
    """The counter of events written in ``month`` (YYYY-MM of the write, not of the events)."""
    return f"quota#{month}"


class QuotaExceeded(Exception):
    """Storing the fresh events would pass the month's quota; nothing of them was written."""

    def __init__(self, used: int, adding: int):
        super().__init__(f"{used} events stored this month; {adding} more would pass the quota")
        self.used, self.adding = used, adding


def events_written(workspace_id: str, month: str) -> int:
    item = _db().get_item(TableName=records_table(), Key={"pk": {"S": workspace_id}, "sk": {"S": quota_key(month)}},
                          ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item and "n" in item else 0


def month_of(now: datetime) -> str:
    """The month a write at ``now`` counts against (YYYY-MM, UTC)."""
    return now.astimezone(UTC).strftime("%Y-%m")


def events_this_month(workspace_id: str, now: datetime) -> int:
    """Pushed events written in ``now``'s UTC month (what the plan's quota counts)."""
    return events_written(workspace_id, month_of(now))


def _stored_markers(workspace_id: str, markers: Iterable[str]) -> set[str]:
    """Which of these markers exist: BatchGetItem of just these keys (100 a call)."""
    wanted = sorted(set(markers))
    found: set[str] = set()
    for i in range(0, len(wanted), 100):
        keys = [{"pk": {"S": workspace_id}, "sk": {"S": sk}} for sk in wanted[i:i + 100]]
        request = {records_table(): {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "sk"}}
        while request:
            page = _db().batch_get_item(RequestItems=request)
            found.update(item["sk"]["S"] for item in page.get("Responses", {}).get(records_table(), []))
            request = page.get("UnprocessedKeys") or None
    return found


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)  # idempotency ids
    duplicates: list[str] = field(default_factory=list)


def add_events(workspace_id: str, events: list[UsageRecord], *, quota: int | None = None,
               month: str | None = None) -> IngestResult:
    """Stores pushed events whose id this workspace has not stored before, whatever their day.

    Each stored id has a marker item, created under ``attribute_not_exists`` in the transaction
    that writes the event, so an id is stored once even across days and concurrent writers; the
    check reads only this batch's markers. Every stored event adds to the counter of ``month``
    (the write's UTC month, default now) in the same transaction, under ``n <= quota - adding``
    when a ``quota`` is given: ``QuotaExceeded`` when the fresh events do not fit.
    """
    month = month or time.strftime("%Y-%m", time.gmtime())
    result = IngestResult()
    unique: dict[str, UsageRecord] = {}
    for event in events:
        marker = event_marker(event.idempotency_id)
        if marker in unique:
            result.duplicates.append(event.idempotency_id)
        else:
            unique[marker] = event
    stored = _stored_markers(workspace_id, unique)
    result.duplicates += [e.idempotency_id for m, e in unique.items() if m in stored]
    fresh = {m: e for m, e in unique.items() if m not in stored}
    if quota is not None and fresh:
        used = events_written(workspace_id, month)
        if used + len(fresh) > quota:
            raise QuotaExceeded(used, len(fresh))
    by_day: dict[str, list[tuple[str, UsageRecord]]] = {}
    for marker, event in fresh.items():
        by_day.setdefault(event.day, []).append((marker, event))
    for day, day_events in sorted(by_day.items()):
        for i in range(0, len(day_events), MARKERS_PER_TRANSACTION):
            _add_slice(workspace_id, day, day_events[i:i + MARKERS_PER_TRANSACTION], quota, month, result)
    return result


def _add_slice(workspace_id: str, day: str, pending: list[tuple[str, UsageRecord]], quota: int | None, month: str,
               result: IngestResult) -> None:
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            return
        version = _day_version(workspace_id, day)
        items = [{"Put": {"TableName": records_table(),
                          "Item": {"pk": {"S": workspace_id}, "sk": {"S": marker}, "day": {"S": day}},
                          "ConditionExpression": "attribute_not_exists(pk)"}} for marker, _ in pending]
        records = [e for _, e in pending]
        for chunk in _chunks(records):
            batch = hashlib.sha256("".join(event_marker(e.idempotency_id) for e in chunk).encode()).hexdigest()[:24]
            items.append({"Put": {
                "TableName": records_table(),
                "Item": {"pk": {"S": workspace_id}, "sk": {"S": f"rec#{day}#push#{batch}"},
                         "blob": {"B": record_codec.encode(chunk)}, "n": {"N": str(len(chunk))}},
                "ConditionExpression": "attribute_not_exists(pk)"}})
            items.append(_fine_put(workspace_id, day, f"push#{batch}", chunk))
        items += _rollup_updates(workspace_id, day, rollup.rebuild(records), version)
        items.append(_quota_update(workspace_id, month, len(records), quota))
        if _transact(items):
            result.accepted += [e.idempotency_id for e in records]
            return
        # Someone stored some of these ids, changed the day, or used the quota: look again.
        stored = _stored_markers(workspace_id, [m for m, _ in pending])
        result.duplicates += [e.idempotency_id for m, e in pending if m in stored]
        pending = [(m, e) for m, e in pending if m not in stored]
        if quota is not None and pending:
            used = events_written(workspace_id, month)
            if used + len(pending) > quota:
                raise QuotaExceeded(used, len(pending))
    raise ConcurrentUpdate(f"{workspace_id} {day}: too many concurrent writers")


def _quota_update(workspace_id: str, month: str, adding: int, quota: int | None) -> dict:
    update: dict[str, Any] = {
        "TableName": records_table(), "Key": {"pk": {"S": workspace_id}, "sk": {"S": quota_key(month)}},
        "UpdateExpression": "ADD #n :k", "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":k": {"N": str(adding)}}}
    if quota is not None:
        update["ConditionExpression"] = "attribute_not_exists(#n) OR #n <= :room"
        update["ExpressionAttributeValues"][":room"] = {"N": str(quota - adding)}
    return {"Update": update}


# --- reading ----------------------------------------------------------------------------------


def query_rows(workspace_id: str, query: UsageQuery, provisional_from: date | None = None,
               ) -> Iterator[tuple[str, RollupKey, RollupValues]]:
    """The rollup rows a usage query needs: the smallest grain holding its dimensions, month items
    for whole months when the query is monthly. Reads grow with days and dimensions, not events.

    Days from ``provisional_from`` on (those a provider may still be billing) are read as day
    items with the ``model`` dimension, which the provisional rule compares bill and events by."""
    dims = set(query.group_by) | set(query.filters)
    ranges: list[tuple[str, str]] = []
    start = query.start
    if provisional_from is not None and provisional_from <= query.end:
        cut = max(start, provisional_from)
        if cut > start:
            ranges += rollup.read_ranges(start, cut - timedelta(days=1), query.granularity, dims)
        ranges += rollup.read_ranges(cut, query.end, "day", dims | {"model"})
    else:
        ranges = rollup.read_ranges(start, query.end, query.granularity, dims)
    for low, high in ranges:
        if low.startswith("a"):  # the every-dimension grain lives in per-chunk aggregates
            low, high = FINE + low[2:], FINE + high[2:]
        yield from _read_range(workspace_id, low, high + "#~")


def _read_range(workspace_id: str, low: str, high: str) -> Iterator[tuple[str, RollupKey, RollupValues]]:
    kwargs: dict[str, Any] = {
        "TableName": rollups_table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":pk": {"S": workspace_id}, ":a": {"S": low}, ":b": {"S": high}},
    }
    while True:
        page = _db().query(**kwargs)
        for item in page.get("Items", []):
            if "rows" in item:
                rows = _fine_rows(item["sk"]["S"].split("#")[1], item["rows"]["B"])
            else:
                sort_key = item["sk"]["S"].rsplit("#", 1)[0]
                plain = {name: value["N"] for name, value in item.items() if "N" in value and name != "v"}
                rows = rollup.rows_from_item(sort_key, plain)
            for key, values in rows.items():
                yield key.day, key, values
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def records(workspace_id: str, day_from: str = "0000", day_to: str = "9999") -> Iterator[UsageRecord]:
    kwargs: dict[str, Any] = {
        "TableName": records_table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":pk": {"S": workspace_id}, ":a": {"S": f"rec#{day_from}"},
                                      ":b": {"S": f"rec#{day_to}#~"}},
    }
    while True:
        page = _db().query(**kwargs)
        for item in page.get("Items", []):
            yield from record_codec.decode(workspace_id, item["blob"]["B"])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_rollups(workspace_id: str, grain: str = "a", period: str = "d") -> dict[RollupKey, RollupValues]:
    """Every stored row of one grain and period (for checks and the rebuild command)."""
    prefix = f"{FINE}#" if (grain, period) == ("a", "d") else f"{grain}{period}#"
    rows: dict[RollupKey, RollupValues] = {}
    for _, key, values in _read_range(workspace_id, prefix, prefix + "~"):
        rows[key] = rows[key] + values if key in rows else values
    return rows


def rebuild_rollups(workspace_id: str) -> int:
    """Recomputes every rollup item of a workspace from its record chunks; returns the days.

    For repairs (a command): writers must be paused, as a concurrent write would be overwritten.
    """
    db = _db()
    for item in list(_query_all(rollups_table(), workspace_id, projection="sk")):
        db.delete_item(TableName=rollups_table(), Key={"pk": {"S": workspace_id}, "sk": item["sk"]})
    by_day: dict[str, list[UsageRecord]] = {}
    for chunk in _query_all(records_table(), workspace_id, projection="sk, #b", names={"#b": "blob"}):
        if not chunk["sk"]["S"].startswith("rec#"):
            continue  # event id markers and quota counters are not records
        _, day, chunk_id = chunk["sk"]["S"].split("#", 2)
        chunk_records = record_codec.decode(workspace_id, chunk["blob"]["B"])
        by_day.setdefault(day, []).extend(chunk_records)
        db.put_item(**_fine_put(workspace_id, day, chunk_id, chunk_records)["Put"])
    for day, day_records in by_day.items():
        for update in _rollup_updates(workspace_id, day, rollup.rebuild(day_records), None):
            u = update["Update"]
            u.pop("ConditionExpression", None)
            u["ExpressionAttributeValues"].pop(":seen", None)
            db.update_item(**u)
    return len(by_day)


def _query_all(table: str, workspace_id: str, projection: str, names: dict | None = None) -> Iterator[dict]:
    kwargs: dict[str, Any] = {
        "TableName": table, "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": workspace_id}}, "ProjectionExpression": projection,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = names
    while True:
        page = _db().query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_rollups_item(workspace_id: str, grain: str, period: str, day: str) -> dict[RollupKey, RollupValues]:
    """The rows of one rollup item (all its shards): e.g. this month's provider totals."""
    sort_key = rollup.sort_key(day, grain, period)
    rows: dict[RollupKey, RollupValues] = {}
    for _, key, values in _read_range(workspace_id, sort_key, sort_key + "#~"):
        rows[key] = rows[key] + values if key in rows else values
    return rows
