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

Storage layout (implemented by ``store/usage.py``; numbers are exact 38-digit decimals): items
keyed by workspace and ``<level>#<day>#<shard>``, holding one number attribute per non-zero value
of each row, named ``<field><row key>`` (field ``b`` billed, ``e`` estimated, ``u`` units, ``n``
count; row key ``encode_row_key(key)``, e.g. ``e|USD|openai|gpt-4o-mini|checkout|search|cus_42||tokens``).
A change ``ADD``s its delta in the same transaction as the record write; ``rows_from_item``
reads an item back, skipping non-row attributes and rows that have returned to zero.

Read budget. A Query is charged on the *summed* size of the items it returns, rounded up once per
4 KB (0.5 RCU eventually consistent); BatchGetItem rounds *every* item up to 4 KB, so always
Query. A stored value costs ~40-60 bytes (its row key is the attribute name). For a team with
2 providers x 4 models (cost + 4 token types of usage) and 5 projects x 4 features of events
(measured in ``tests/unit/test_rollup.py``), a 365-day *daily* query reads ~5.4 KB/day at the
provider/model grain (~240 RCU) and ~13 KB/day with every dimension (~575 RCU). To stay under
100 RCU, this module provides two more cuts (``GRAINS``/``PERIODS``, ``regrain``,
``item_updates``, ``read_ranges``), each one more ``ADD`` in the same transaction:

* a provider-only grain (``p``: ~0.3 KB/day, a daily year by provider ~16 RCU), which the
  dashboard, budgets and forecasts need;
* month items (``<grain>m#YYYY-MM``, rows dated the 1st), so month granularity reads 12-13 items
  whatever the grain (~1-21 RCU); partial months at the ends come from day items.

Attribution on month items decides "billed" per provider and month instead of per day. A day's
fine rows grow with distinct customers; at thousands a day, shard (as the store does) or drop
``customer`` from the rollup and answer per-customer questions from the records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta
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
    same = (
        old is None
        or new is None
        or (old.workspace_id, old.record_key()) == (new.workspace_id, new.record_key())
    )
    if not same:
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


# --- DynamoDB items: grains, periods, attributes ------------------------------------------------

# A grain keeps some dimensions of the key and clears the rest. Every record change updates one
# item per grain (and per period), so a query reads the smallest grain that has its dimensions.
GRAINS: dict[str, tuple[str, ...]] = {
    "p": ("provider",),  # spend per provider: dashboards, budgets, forecasts
    "m": (
        "provider",
        "model",
        "api_key",
        "unit_type",
    ),  # provider-side analytics, estimate vs bill
    "a": DIMENSIONS,  # everything, incl. the pushed tags (project, feature, customer)
}
PERIODS = ("d", "m")  # day items; month items (rows dated the 1st) for month-granular reads
# Month items exist for the provider-side grains only. A month of every-dimension rows grows with
# the tags' cardinality (customers x features x projects) until it passes DynamoDB's 400 KB item
# limit, and an ADD costs the whole item's size in write units on every ingest; so the "a" grain
# is kept per day, and its month queries read day items.
MONTH_GRAINS = ("p", "m")


def grain_for(dimensions: Iterable[str]) -> str:
    """The smallest grain holding every dimension a query groups or filters by."""
    wanted = set(dimensions)
    for name, kept in GRAINS.items():
        if wanted <= set(kept):
            return name
    raise ValueError(f"unknown dimensions: {sorted(wanted - set(DIMENSIONS))}")


def sort_key(day: str, grain: str = "a", period: str = "d") -> str:
    """``<grain><period>#<date>``: ``ad#2025-03-10``, ``pm#2025-03``. One grain's days are contiguous."""
    if grain not in GRAINS or period not in PERIODS:
        raise ValueError(f"unknown grain/period {grain!r}/{period!r}")
    return f"{grain}{period}#{day if period == 'd' else day[:7]}"


def parse_sort_key(text: str) -> tuple[str, str, str]:
    """``(day, grain, period)``; a month item's rows are dated the month's first day."""
    if len(text) < 3 or text[0] not in GRAINS or text[1] not in PERIODS or text[2] != "#":
        raise ValueError(f"not a rollup sort key: {text!r}")
    grain, period, date_text = text[0], text[1], text[3:]
    day = date_text if period == "d" else f"{date_text}-01"
    date.fromisoformat(day)
    return day, grain, period


def regrain(rows: Mapping[RollupKey, RollupValues], grain: str = "a", period: str = "d") -> Rows:
    """Rows projected onto a grain (other dimensions cleared) and period (month: dated the 1st)."""
    kept = GRAINS[grain]
    result: Rows = {}
    for key, values in rows.items():
        k = project_key(key, kept) if grain != "a" else key
        if period == "m":
            k = k._replace(day=k.day[:8] + "01")
        result[k] = result[k] + values if k in result else values
    return result


def to_item_attributes(
    rows: Mapping[RollupKey, RollupValues], grain: str = "a", period: str = "d"
) -> dict[str, dict[str, Decimal]]:
    """Per item sort key, the attribute name -> number map (zero values omitted).

    Used both for ``ADD`` with a delta (amounts may be negative) and for writing rebuilt items.
    """
    items: dict[str, dict[str, Decimal]] = {}
    for key, values in regrain(rows, grain, period).items():
        row = encode_row_key(key)
        attrs = items.setdefault(sort_key(key.day, grain, period), {})
        amounts = (values.billed, values.estimated, values.units, values.count)
        for code, amount in zip(FIELD_CODES, amounts, strict=True):
            if amount:
                attrs[code + row] = Decimal(amount)
    return items


def item_updates(
    changes: Mapping[RollupKey, RollupValues],
    grains: Iterable[str] = tuple(GRAINS),
    periods: Iterable[str] = PERIODS,
) -> dict[str, dict[str, Decimal]]:
    """Every ``ADD`` a delta needs: sort key -> {attribute name: amount}, over grains and periods
    (month items only for ``MONTH_GRAINS``)."""
    updates: dict[str, dict[str, Decimal]] = {}
    for grain in grains:
        for period in periods:
            if period == "m" and grain not in MONTH_GRAINS:
                continue
            updates.update(to_item_attributes(changes, grain, period))
    return {sk: attrs for sk, attrs in updates.items() if attrs}


def merge(*deltas: Mapping[RollupKey, RollupValues]) -> Rows:
    """One delta for several record changes (one transaction of many puts, one ADD per item)."""
    total: Rows = {}
    for changes in deltas:
        total = apply(total, changes)
    return total


def rows_from_item(sort_key_or_day: str, attributes: Mapping[str, object]) -> Rows:
    """Rows stored in one item; other attributes (PK, SK, ...) and all-zero rows are skipped.

    Accepts the item's sort key (``ad#2025-03-10``) or a bare day (``2025-03-10``).
    """
    day = parse_sort_key(sort_key_or_day)[0] if "#" in sort_key_or_day else sort_key_or_day
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


def read_ranges(start: date, end: date, granularity: str, dimensions: Iterable[str]) -> list[tuple[str, str]]:
    """Inclusive sort-key ranges a query reads (one ``Query ... BETWEEN`` each).

    The grain is the smallest with the query's dimensions. Month granularity reads month items
    for whole months and day items for the partial months at either end; day and week read days.
    """
    grain = grain_for(dimensions)
    if granularity != "month" or grain not in MONTH_GRAINS:
        return [(sort_key(start.isoformat(), grain), sort_key(end.isoformat(), grain))]
    ranges: list[tuple[str, str]] = []
    first_full = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after_end = end + timedelta(days=1)
    last_full_end = after_end.replace(day=1) - timedelta(days=1)  # last day of the last whole month
    if first_full > last_full_end:
        return [(sort_key(start.isoformat(), grain), sort_key(end.isoformat(), grain))]
    if start < first_full:
        ranges.append(
            (
                sort_key(start.isoformat(), grain),
                sort_key((first_full - timedelta(days=1)).isoformat(), grain),
            )
        )
    ranges.append(
        (
            sort_key(first_full.isoformat(), grain, "m"),
            sort_key(last_full_end.isoformat(), grain, "m"),
        )
    )
    if last_full_end < end:
        ranges.append(
            (
                sort_key(after_end.replace(day=1).isoformat(), grain),
                sort_key(end.isoformat(), grain),
            )
        )
    return ranges


def iter_rows(
    rows: Mapping[RollupKey, RollupValues],
) -> Iterator[tuple[str, RollupKey, RollupValues]]:
    """``(day, key, values)`` triples, the input shape of ``usage_query.run_query``."""
    for key, values in rows.items():
        yield key.day, key, values
