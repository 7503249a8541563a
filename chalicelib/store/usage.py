"""The usage store: record chunks, daily rollups and the event id index, changed together in one
transaction.

Layout (two tables declared in infra/resources.json, both keyed ``pk`` = workspace id, ``sk``):

usage-records
    ``rec#<day>#sync#<connection>``: every record one connection reported for one UTC day, as a
    compressed chunk. A re-sync replaces the whole day for that connection (invariant 2: a
    restated bucket replaces, a vanished one disappears, nothing is added twice).
    ``rec#<day>#push#<id>``: the new events of one ingest transaction for one day, put just before
    the transaction (plain puts cost half); they count once it commits their fine rows
    (``af#<day>#push#<id>``), so a chunk of a failed attempt is never read (``records``).
    ``eid#...``, ``eidv``: the pushed-event id index (``store/event_ids.py``): each id once per
    workspace, whatever its day, in 2 items of packed fingerprints per batch.
    ``quota#<YYYY-MM>``: ``n``, the events written in that UTC month (the plan's quota counts it).
usage-rollups
    The rollup rows of ``domain.rollup`` in the layout of ``store/rollup_layout.py``: ADD-updated
    provider-side items per day, month and hour, and the every-dimension rows per record chunk.

Every change is one TransactWriteItems: the chunk puts (pushed chunks just before), their fine
rows, ``ADD`` of the exact delta on the rollup items, and ``v = v + 1`` on each day it touches
under the condition
that ``v`` is what was read (plus, for pushed events, the id index items and its version, and the
month's quota counter). Concurrent writers of the same day (overlapping ingests, a sync racing a
push) therefore serialise: the loser re-reads and recomputes, so totals stay exact. It uses the
low-level client because rollup attribute names are data (PynamoDB models fixed attributes).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import aws, config
from chalicelib.domain import rollup
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import UsageRecord
from chalicelib.domain.usage_query import UsageQuery
from chalicelib.store import record_codec
from chalicelib.store import rollup_layout as layout

MAX_ATTEMPTS = 8
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit
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


def query_items(**kwargs: Any) -> Iterator[dict]:
    """Every item of a Query, page after page (the one pagination loop of this module)."""
    while True:
        page = _db().query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def between(table: str, workspace_id: str, low: str, high: str, **extra: Any) -> Iterator[dict]:
    return query_items(TableName=table, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                  ExpressionAttributeValues={":pk": {"S": workspace_id}, ":a": {"S": low}, ":b": {"S": high}},
                  **extra)


def rollup_updates(workspace_id: str, old: Iterable[UsageRecord], new: Iterable[UsageRecord],
                   versions: Mapping[str, int | None]) -> list[dict]:
    """Update items for the records ``old`` replaced by ``new``: ADD the delta on every
    provider-side day, month and hour item it touches, and bump the version of each day in
    ``versions`` (on its ``pd#<day>#0`` item) under the condition it is still what was read
    (``None``: never written)."""
    old, new = list(old), list(new)
    per_item = layout.item_updates(rollup.delta(old, new))
    per_item |= layout.hourly_updates(rollup.delta(old, new, rollup.hourly_key))
    guards = {f"{layout.sort_key(day)}#0": version for day, version in versions.items()}
    for guard in guards:
        per_item.setdefault(guard, {})
    updates = []
    for sk, attrs in sorted(per_item.items()):
        names, values, parts = {}, {}, []
        for i, (name, amount) in enumerate(sorted(attrs.items())):
            names[f"#a{i}"] = name
            values[f":a{i}"] = _num(amount)
            parts.append(f"#a{i} :a{i}")
        update: dict[str, Any] = {"TableName": rollups_table(), "Key": {"pk": {"S": workspace_id}, "sk": {"S": sk}}}
        update |= {"UpdateExpression": "ADD " + ", ".join(parts) if parts else "", "ExpressionAttributeNames": names,
                   "ExpressionAttributeValues": values}
        updates.append({"Update": versioned(update, guards[sk]) if sk in guards else update})
    return updates


def versioned(update: dict[str, Any], seen: int | None) -> dict[str, Any]:
    """``update`` that also adds 1 to ``v``, under the condition that ``v`` is ``seen`` (``None``:
    that there is no ``v`` yet)."""
    update["UpdateExpression"] += (", " if update["UpdateExpression"] else "ADD ") + "#v :one"
    update["ExpressionAttributeNames"]["#v"] = "v"
    update["ExpressionAttributeValues"][":one"] = {"N": "1"}
    if seen is None:
        update["ConditionExpression"] = "attribute_not_exists(#v)"
    else:
        update["ConditionExpression"] = "#v = :seen"
        update["ExpressionAttributeValues"][":seen"] = {"N": str(seen)}
    return update


def fine_put(workspace_id: str, day: str, chunk: str, records: Iterable[UsageRecord]) -> dict:
    """The every-dimension rollup rows of one chunk, as one compressed item."""
    return {"Put": {"TableName": rollups_table(), "Item": {
        "pk": {"S": workspace_id}, "sk": {"S": f"{layout.sort_key(day, 'a')}#{chunk}"},
        "rows": {"B": layout.fine_blob(rollup.rebuild(records))}}}}


def version_of(table: str, workspace_id: str, sk: str) -> int | None:
    item = _db().get_item(TableName=table, Key={"pk": {"S": workspace_id}, "sk": {"S": sk}},
                          ProjectionExpression="#v", ExpressionAttributeNames={"#v": "v"},
                          ConsistentRead=True).get("Item")
    return int(item["v"]["N"]) if item and "v" in item else None


def _day_version(workspace_id: str, day: str) -> int | None:
    return version_of(rollups_table(), workspace_id, f"{layout.sort_key(day)}#0")


def transact(items: list[dict]) -> bool:
    """True if committed; False if a condition failed (someone else changed the day)."""
    db = _db()
    try:
        db.transact_write_items(TransactItems=items)
    except db.exceptions.TransactionCanceledException as e:
        reasons = e.response.get("CancellationReasons", [])
        if any(r.get("Code") in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons):
            return False
        raise
    return True


def chunks(records: list[UsageRecord]) -> list[list[UsageRecord]]:
    """Splits records so each compressed chunk stays well under DynamoDB's 400 KB item limit."""
    if len(records) <= 1 or len(record_codec.encode(records)) <= _MAX_CHUNK_BYTES:
        return [records]
    half = len(records) // 2
    return chunks(records[:half]) + chunks(records[half:])


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
        put = {"Put": {"TableName": records_table(), "Item": {
            **key, "blob": {"B": blob}, "digest": {"S": digest}, "n": {"N": str(len(records))},
            "updated_at": {"N": str(int(time.time()))}}}}
        fine = fine_put(workspace_id, day, f"sync#{connection_id}", records)
        if transact([put, fine, *rollup_updates(workspace_id, old, records, {day: version})]):
            return True
    raise ConcurrentUpdate(f"{workspace_id} {day}: too many concurrent writers")


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
            ranges += layout.read_ranges(start, cut - timedelta(days=1), query.granularity, dims)
        ranges += layout.read_ranges(cut, query.end, "day", dims | {"model"})
    else:
        ranges = layout.read_ranges(start, query.end, query.granularity, dims)
    for low, high in _merged(ranges):
        for key, values in _read_range(workspace_id, low, high + "#~"):
            yield key.day, key, values


def _merged(ranges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Adjacent ranges of one grain and period (final days, then the provisional ones at the same
    grain) as one range: one Query instead of two."""
    out: list[tuple[str, str]] = []
    for low, high in ranges:
        if out and out[-1][1].partition("#")[0] == low.partition("#")[0]:
            out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out


def _read_range(workspace_id: str, low: str, high: str) -> Iterator[tuple[RollupKey, RollupValues]]:
    for item in between(rollups_table(), workspace_id, low, high):
        sk = item["sk"]["S"]
        if "rows" in item:
            rows = layout.fine_rows(layout.parse_sort_key(sk)[0], item["rows"]["B"])
        else:
            rows = layout.rows_from_item(sk, {name: value["N"] for name, value in item.items() if "N" in value})
        yield from rows.items()


def hourly_rows(workspace_id: str, first: date, last: date) -> dict[RollupKey, RollupValues]:
    """The hourly provider rows of the UTC days ``first..last`` (keys dated by hour), in one Query
    of at most 24 items a day."""
    return _sum(_read_range(workspace_id, *layout.hourly_range(first, last)))


def _sum(rows: Iterable[tuple[RollupKey, RollupValues]]) -> dict[RollupKey, RollupValues]:
    total: dict[RollupKey, RollupValues] = {}
    for key, values in rows:
        total[key] = total[key] + values if key in total else values
    return total


def records(workspace_id: str, day_from: str = "0000", day_to: str = "9999") -> Iterator[UsageRecord]:
    for _, blob in _chunk_blobs(workspace_id, day_from, day_to):
        yield from record_codec.decode(workspace_id, blob)


def _chunk_blobs(workspace_id: str, day_from: str = "0000", day_to: str = "9999",
                 orphans: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """``(sort key, blob)`` of the record chunks of these days that count: every synced chunk, and
    the pushed chunks whose fine rows (``af#<day>#push#<id>``) committed with them (a pushed chunk
    is put just before its transaction, so one whose transaction failed has none). The sort keys
    of the others go to ``orphans``."""
    committed: set[str] | None = None
    for item in between(records_table(), workspace_id, f"rec#{day_from}", f"rec#{day_to}#~"):
        sk = item["sk"]["S"]
        if "#push#" in sk:
            if committed is None:
                fine = between(rollups_table(), workspace_id, f"{layout.FINE}#{day_from}", f"{layout.FINE}#{day_to}#~",
                               ProjectionExpression="sk")
                committed = {i["sk"]["S"][len(layout.FINE) + 1:] for i in fine}
            if sk[len("rec#"):] not in committed:
                if orphans is not None:
                    orphans.append(sk)
                continue
        yield sk, item["blob"]["B"]


def stored_rollups(workspace_id: str, grain: str = "a", period: str = "d") -> dict[RollupKey, RollupValues]:
    """Every stored row of one grain and period (for checks and the rebuild command)."""
    low = layout.prefix(grain, period) + "#"
    return _sum(_read_range(workspace_id, low, low + "~"))


def stored_rollups_item(workspace_id: str, grain: str, period: str, day: str) -> dict[RollupKey, RollupValues]:
    """The rows of one rollup item (all its shards or chunks): e.g. this month's provider totals."""
    sort_key = layout.sort_key(day, grain, period)
    return _sum(_read_range(workspace_id, sort_key, sort_key + "#~"))


def rebuild_rollups(workspace_id: str) -> int:
    """Recomputes every rollup item of a workspace from its record chunks; returns the days.

    For repairs (a command): writers must be paused, as a concurrent write would be overwritten.
    """
    db = _db()
    orphans: list[str] = []
    chunks = list(_chunk_blobs(workspace_id, orphans=orphans))
    everything = query_items(TableName=rollups_table(), KeyConditionExpression="pk = :pk",
                             ExpressionAttributeValues={":pk": {"S": workspace_id}}, ProjectionExpression="sk")
    for item in list(everything):
        db.delete_item(TableName=rollups_table(), Key={"pk": {"S": workspace_id}, "sk": item["sk"]})
    for sk in orphans:  # chunks of pushes that never committed
        db.delete_item(TableName=records_table(), Key={"pk": {"S": workspace_id}, "sk": {"S": sk}})
    by_day: dict[str, list[UsageRecord]] = {}
    for sk, blob in chunks:
        _, day, chunk_id = sk.split("#", 2)
        chunk_records = record_codec.decode(workspace_id, blob)
        by_day.setdefault(day, []).extend(chunk_records)
        db.put_item(**fine_put(workspace_id, day, chunk_id, chunk_records)["Put"])
    for update in rollup_updates(workspace_id, (), (r for rs in by_day.values() for r in rs), dict.fromkeys(by_day)):
        u = update["Update"]
        u.pop("ConditionExpression", None)
        db.update_item(**u)
    return len(by_day)
