"""Daily rollups: the exact arithmetic behind every usage query (DESIGN.md invariant 3).

A rollup row sums the records that share a key::

    (day, kind, currency, provider, model, project, feature, customer, api_key, unit_type)
      -> billed, estimated, units (Decimal), count (int)

It is maintained in the same atomic step that writes a record, as ``delta(old, new)`` (new minus
old: an insert is ``delta(None, r)``, a restated bucket ``delta(r0, r1)``, a delete
``delta(r, None)``), and it can always be recomputed as ``rebuild(records)``; both give the same
rows, exactly, because every sum is an exact ``Decimal`` (``money.CONTEXT`` raises rather than
round). ``None`` and ``""`` dimension values are the same "not set" value.

What the values mean per kind (``usage_query`` relies on this):

* ``cost`` rows: ``billed`` is the provider's bill (the spend truth), ``estimated`` any estimate
  the adapter attached.
* ``usage`` rows: ``estimated`` is the catalogue estimate of the synced units; never spend.
* ``event`` rows (pushed): ``billed`` sums the costs the client *reported*, ``estimated`` the
  catalogue estimates of events that came without a cost. An event sets one or the other, never
  both, so the events' cost is ``billed + estimated`` with no double counting.

Recommended DynamoDB layout (one item per workspace and UTC day)::

    PK = "ws#<workspace_id>"   SK = "day#<YYYY-MM-DD>"
    one number attribute per non-zero value of each row, named  <field><row key>
        field: b billed, e estimated, u units, n count
        row key: encode_row_key(key), e.g.  "e|USD|openai|gpt-4o-mini|checkout|search|cus_42||tokens"
    e.g. {"be|USD|openai|gpt-4o": 0.52, "ne|USD|openai|gpt-4o": 3, ...}

* Writes: the record's put and one ``UpdateItem`` on its day item share a ``TransactWriteItems``;
  the update is ``ADD #a1 :v1, #a2 :v2 ...`` with the names/amounts from ``item_updates(delta)``
  (ADD creates missing attributes and accepts negative amounts, so there is no read-modify-write
  and no version to race on, even with many concurrent writers on today's item). A record that
  moves between days (rare) touches two day items in the same transaction.
* Reads: ``Query PK = ws#.. AND SK BETWEEN day#<from> AND day#<to>``, then ``rows_from_item`` per
  item. A Query is charged on the *summed* size of the items returned, rounded up once per 4 KB
  (0.5 RCU eventually consistent), whereas BatchGetItem rounds *every* item up to 4 KB. So a
  365-day query costs ~ total bytes / 8 KB RCU: under 100 RCU while days average under ~2.2 KB.
  The row key is positional (no dimension names), one-letter kind, trailing empties trimmed, and
  zero values are not stored, so a row costs ~40-90 bytes: ~25-50 rows per day fit the budget.
  High-cardinality dimensions (thousands of customers a day) do not; for those, keep a second,
  coarser item per day (same layout, ``SK = "dayc#..."``, rows from ``project_key(key, COARSE)``
  without customer/feature) written in the same transaction, and query it unless the request
  groups or filters by customer/feature.
* Rows whose values all return to zero are left as zero attributes by ADD; ``rows_from_item``
  skips them and a rebuild (``to_item_attributes(rebuild(...))`` written with PutItem) drops them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import NamedTuple

from chalicelib.domain.money import CONTEXT, ZERO, parse_decimal
from chalicelib.domain.usage import DIMENSIONS, RecordKind, UsageRecord

_KIND_CODE = {RecordKind.COST: "c", RecordKind.USAGE: "u", RecordKind.EVENT: "e"}
_CODE_KIND = {code: kind for kind, code in _KIND_CODE.items()}
_SEP = "|"
_ESCAPE = "\\"
# value fields as stored: attribute name = field letter + encoded row key
FIELD_CODES = ("b", "e", "u", "n")
_ATTRIBUTE = re.compile(r"[beun][cue]\|")

# Dimensions of the coarse rollup suggested for high-cardinality workspaces.
COARSE_DIMENSIONS = ("provider", "model", "project", "api_key", "unit_type")


class RollupKey(NamedTuple):
    day: str  # UTC YYYY-MM-DD
    kind: RecordKind
    currency: str
    provider: str
    model: str | None = None
    project: str | None = None
    feature: str | None = None
    customer: str | None = None
    api_key: str | None = None
    unit_type: str | None = None

    def dimension(self, name: str) -> str | None:
        return getattr(self, name)


assert RollupKey._fields[3:] == DIMENSIONS, "row key order must follow usage.DIMENSIONS"


@dataclass(frozen=True, slots=True)
class RollupValues:
    billed: Decimal = ZERO
    estimated: Decimal = ZERO
    units: Decimal = ZERO
    count: int = 0

    def __add__(self, other: RollupValues) -> RollupValues:
        return RollupValues(
            CONTEXT.add(self.billed, other.billed),
            CONTEXT.add(self.estimated, other.estimated),
            CONTEXT.add(self.units, other.units),
            self.count + other.count,
        )

    def __neg__(self) -> RollupValues:
        return RollupValues(-self.billed, -self.estimated, -self.units, -self.count)

    def __sub__(self, other: RollupValues) -> RollupValues:
        return self + (-other)

    def is_zero(self) -> bool:
        return not (self.billed or self.estimated or self.units or self.count)


Rows = dict[RollupKey, RollupValues]


def _blank(value: str | None) -> str | None:
    return value or None


def _day(record: UsageRecord) -> str:
    start = record.bucket_start
    if start.utcoffset():
        start = start.astimezone(UTC)
    return start.date().isoformat()


def key_of(record: UsageRecord) -> RollupKey:
    return RollupKey(
        _day(record),
        record.kind,
        record.currency,
        record.provider,
        record.model or None,
        record.project or None,
        record.feature or None,
        record.customer or None,
        record.api_key or None,
        record.unit_type or None,
    )


def contribution(record: UsageRecord) -> tuple[RollupKey, RollupValues]:
    """The one row a record adds to, and what it adds (count 1)."""
    values = RollupValues(
        record.billed_cost if record.billed_cost is not None else ZERO,
        record.estimated_cost if record.estimated_cost is not None else ZERO,
        record.units,
        1,
    )
    return key_of(record), values


def delta(old: UsageRecord | None, new: UsageRecord | None) -> Rows:
    """Rows to add to the rollups when ``old`` becomes ``new`` (``None``: absent). No zero rows."""
    if old is not None and new is not None:
        if old.workspace_id != new.workspace_id or old.record_key() != new.record_key():
            raise ValueError("delta(old, new) needs two versions of the same record")
    changes: Rows = {}
    if old is not None:
        key, values = contribution(old)
        changes[key] = -values
    if new is not None:
        key, values = contribution(new)
        changes[key] = changes[key] + values if key in changes else values
    return {key: values for key, values in changes.items() if not values.is_zero()}


def apply(rows: Mapping[RollupKey, RollupValues], changes: Mapping[RollupKey, RollupValues]) -> Rows:
    """``rows + changes`` as a new mapping, without rows that became all zero."""
    result = dict(rows)
    for key, values in changes.items():
        total = result[key] + values if key in result else values
        if total.is_zero():
            result.pop(key, None)
        else:
            result[key] = total
    return result


def rebuild(records: Iterable[UsageRecord]) -> Rows:
    """All rollup rows recomputed from the records (each record once: the store's keys ensure it)."""
    add = CONTEXT.add
    acc: dict[RollupKey, list] = {}
    for record in records:
        key = key_of(record)
        billed = record.billed_cost
        estimated = record.estimated_cost
        row = acc.get(key)
        if row is None:
            acc[key] = [billed or ZERO, estimated or ZERO, record.units, 1]
            continue
        if billed:
            row[0] = add(row[0], billed)
        if estimated:
            row[1] = add(row[1], estimated)
        if record.units:
            row[2] = add(row[2], record.units)
        row[3] += 1
    return {key: RollupValues(b, e, u, n) for key, (b, e, u, n) in acc.items()}


def project_key(key: RollupKey, dimensions: Iterable[str]) -> RollupKey:
    """The key with every dimension not in ``dimensions`` cleared (for a coarser rollup)."""
    keep = set(dimensions)
    return key._replace(**{d: None for d in DIMENSIONS if d not in keep})


# --- compact encoding ------------------------------------------------------------------------


def _escape(value: str | None) -> str:
    if not value:
        return ""
    return value.replace(_ESCAPE, _ESCAPE * 2).replace(_SEP, _ESCAPE + _SEP)


def _split(text: str) -> list[str]:
    parts, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == _ESCAPE:
            nxt = next(chars, None)
            if nxt is None:
                raise ValueError(f"dangling escape in row key {text!r}")
            current.append(nxt)
        elif ch == _SEP:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def encode_row_key(key: RollupKey) -> str:
    """Compact, positional form of a key without its day (the day is in the item's sort key).

    ``kind|currency|provider|model|project|feature|customer|api_key|unit_type`` with ``kind`` one
    letter (c, u, e), ``|`` and ``\\`` in values backslash-escaped, unset values empty and
    trailing empty fields dropped: ``c|USD|openai|gpt-4o``.
    """
    fields = [_KIND_CODE[key.kind], key.currency] + [_escape(v) for v in key[3:]]
    while fields and fields[-1] == "":
        fields.pop()
    return _SEP.join(fields)


def decode_row_key(day: str, text: str) -> RollupKey:
    parts = _split(text)
    if len(parts) < 3 or len(parts) > len(RollupKey._fields) - 1 or parts[0] not in _CODE_KIND:
        raise ValueError(f"not a rollup row key: {text!r}")
    parts += [""] * (len(RollupKey._fields) - 1 - len(parts))
    kind = _CODE_KIND[parts[0]]
    return RollupKey(day, kind, parts[1], parts[2], *[p or None for p in parts[3:]])


def encode_key(key: RollupKey) -> str:
    """Day-qualified form (``2025-01-31|c|USD|openai``), for a sort key or a flat map."""
    return f"{key.day}{_SEP}{encode_row_key(key)}"


def decode_key(text: str) -> RollupKey:
    day, sep, rest = text.partition(_SEP)
    if not sep:
        raise ValueError(f"not a rollup key: {text!r}")
    return decode_row_key(day, rest)


# --- DynamoDB item attributes ------------------------------------------------------------------


def to_item_attributes(rows: Mapping[RollupKey, RollupValues]) -> dict[str, dict[str, Decimal]]:
    """Per day, the attribute name -> number map for the rows (zero values omitted).

    Used both for ``ADD`` with a delta (amounts may be negative) and for writing rebuilt items.
    """
    items: dict[str, dict[str, Decimal]] = {}
    for key, values in rows.items():
        row = encode_row_key(key)
        attrs = items.setdefault(key.day, {})
        for code, amount in zip(FIELD_CODES, (values.billed, values.estimated, values.units, values.count)):
            if amount:
                name = code + row
                attrs[name] = attrs[name] + Decimal(amount) if name in attrs else Decimal(amount)
    return items


def item_updates(changes: Mapping[RollupKey, RollupValues]) -> dict[str, dict[str, Decimal]]:
    """The ``ADD`` amounts per day item for a ``delta``."""
    return to_item_attributes(changes)


def rows_from_item(day: str, attributes: Mapping[str, object]) -> Rows:
    """Rows stored in one day item; other attributes (PK, SK, ...) and all-zero rows are skipped."""
    acc: dict[str, list] = {}
    for name, raw in attributes.items():
        if not _ATTRIBUTE.match(name):
            continue
        amount = parse_decimal(raw)
        index = FIELD_CODES.index(name[0])
        row = acc.setdefault(name[1:], [ZERO, ZERO, ZERO, ZERO])
        row[index] = CONTEXT.add(row[index], amount)
    rows: Rows = {}
    for text, (billed, estimated, units, count) in acc.items():
        if count != count.to_integral_value():
            raise ValueError(f"rollup count is not an integer: {text!r}")
        values = RollupValues(billed, estimated, units, int(count))
        if not values.is_zero():
            rows[decode_row_key(day, text)] = values
    return rows


def iter_rows(rows: Mapping[RollupKey, RollupValues]) -> Iterator[tuple[str, RollupKey, RollupValues]]:
    """``(day, key, values)`` triples, the input shape of ``usage_query.run_query``."""
    for key, values in rows.items():
        yield key.day, key, values
