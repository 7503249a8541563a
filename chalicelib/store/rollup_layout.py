"""How rollup rows are laid out in the ``usage-rollups`` table (pure: keys, names, blobs).

Grains keep some dimensions of a row's key and clear the rest; a query reads the smallest grain
that has its dimensions (``grain_for``):

* ``p`` provider: dashboards, budgets, forecasts;
* ``m`` provider, model, API key, unit type: provider-side analytics, estimate vs bill;
* ``a`` every dimension, the pushed tags (project, feature, customer) included.

Items, all keyed ``pk`` = workspace id and the sort keys below:

``pd#<day>#<shard>``, ``pm#<YYYY-MM>#<shard>``, ``md#<day>#<shard>``, ``mm#<YYYY-MM>#<shard>``
    The provider-side grains per day (``d``) and per month (``m``, rows dated the 1st), one number
    attribute per row and value, named ``<field><row key>`` (field ``b`` billed, ``e`` estimated,
    ``u`` units, ``n`` count; row key ``encode_row_key``, e.g. ``bc|USD|openai|gpt-4o``), changed
    with ``ADD`` in the transaction that writes the records. ``SHARDS`` split a grain's rows over
    items so each update expression stays small; a Query sums item sizes, so shards cost no extra
    read units. ``pd#<day>#0`` also carries ``v``, the day's version.
``ph#<day>#<block>``
    The hourly provider grain (``rollup.hourly_key``: pushed events and other sub-day spend, by
    the UTC hour its bucket starts), changed with ``ADD`` in the same transaction: one item per
    block of HOURS_PER_ITEM hours with data (block 0 is 00:00-05:59), one number attribute per
    row, value and hour, ``<field><HH><row key>`` (``b10e|USD|openai``). An ``ADD`` costs the
    item's whole size in write units: a live push touches one block (its hour's rows plus a few
    hours'), a backfill of a whole day four, not 24 items; a block holds ~1,000 rows before the
    400 KB limit.
``af#<day>#<chunk>``
    The every-dimension rows of one record chunk, compressed (``fine_blob``), written and replaced
    with the chunk. Tags can have thousands of values a day: as shared ``ADD`` items they would
    cost their whole size in write units on every write and outgrow the 400 KB item limit, while
    per-chunk aggregates cost what the chunk adds. A fine query reads the day's chunk aggregates.

Month items exist for the provider-side grains only (``MONTH_GRAINS``), so month granularity
reads 12-13 items whatever the range, partial months at the ends from day items (``read_ranges``);
hours are read in one Query of at most 4 items a day (``hourly_range``).
Read budget: a Query is charged on the summed size of the items it returns, rounded up once per
4 KB (0.5 RCU eventually consistent); BatchGetItem rounds every item up to 4 KB, so always Query.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from chalicelib.domain.money import CONTEXT, ZERO, parse_decimal
from chalicelib.domain.rollup import RollupKey, RollupValues, Rows
from chalicelib.domain.usage import DIMENSIONS, RecordKind

GRAINS: dict[str, tuple[str, ...]] = {
    "p": ("provider",),
    "m": ("provider", "model", "api_key", "unit_type"),
    "a": DIMENSIONS,
}
PERIODS = ("d", "m")
MONTH_GRAINS = ("p", "m")
ADDED_GRAINS = ("p", "m")  # kept with ADD; the "a" grain is stored per chunk
SHARDS = {"p": 1, "m": 2}
FINE = "af"  # sort-key prefix of the every-dimension grain's per-chunk items
HOURLY = "ph"  # sort-key prefix of the hourly provider grain's items
HOURS_PER_ITEM = 6
LEVELS = tuple((g, p) for g in GRAINS for p in PERIODS if p == "d" or g in MONTH_GRAINS)

_KIND_CODE = {RecordKind.COST: "c", RecordKind.USAGE: "u", RecordKind.EVENT: "e"}
_CODE_KIND = {code: kind for kind, code in _KIND_CODE.items()}
_SEP = "|"
_ESCAPE = "\\"
FIELD_CODES = ("b", "e", "u", "n")
_ATTRIBUTE = re.compile(r"[beun][cue]\|")
_HOUR_ATTRIBUTE = re.compile(r"[beun]\d\d[ce]\|")


# --- row keys -----------------------------------------------------------------------------------


def _escape(value: str | None) -> str:
    if not value:
        return ""
    return value.replace(_ESCAPE, _ESCAPE * 2).replace(_SEP, _ESCAPE + _SEP)


def _split(text: str) -> list[str]:
    if _ESCAPE not in text:  # the usual key: nothing escaped (a query decodes thousands of them)
        return text.split(_SEP)
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


# --- grains, periods, sort keys -------------------------------------------------------------------


def grain_for(dimensions: Iterable[str]) -> str:
    """The smallest grain holding every dimension a query groups or filters by."""
    wanted = set(dimensions)
    for name, kept in GRAINS.items():
        if wanted <= set(kept):
            return name
    raise ValueError(f"unknown dimensions: {sorted(wanted - set(DIMENSIONS))}")


def prefix(grain: str, period: str = "d") -> str:
    """The sort-key prefix of a grain and period: ``pd``, ``mm``, ``af`` (fine rows per chunk)."""
    if grain not in GRAINS or period not in PERIODS or (period == "m" and grain not in MONTH_GRAINS):
        raise ValueError(f"no rollup items for grain/period {grain!r}/{period!r}")
    return FINE if grain == "a" else grain + period


def sort_key(day: str, grain: str = "p", period: str = "d") -> str:
    """``<prefix>#<date>``: ``pd#2025-03-10``, ``pm#2025-03``, ``af#2025-03-10``; items add a
    ``#<shard>`` or ``#<chunk>``. One grain's days are contiguous."""
    return f"{prefix(grain, period)}#{day if period == 'd' else day[:7]}"


def parse_sort_key(text: str) -> tuple[str, str, str]:
    """``(day, grain, period)`` of an item's sort key (its shard or chunk suffix ignored); a month
    item's rows are dated the month's first day."""
    head, _, rest = text.partition("#")
    date_text = rest.split("#", 1)[0]
    levels = {prefix(g, p): (g, p) for g, p in LEVELS}
    if head not in levels:
        raise ValueError(f"not a rollup sort key: {text!r}")
    grain, period = levels[head]
    day = date_text if period == "d" else f"{date_text}-01"
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"not a rollup sort key: {text!r}") from None
    return day, grain, period


def project_key(key: RollupKey, dimensions: Iterable[str]) -> RollupKey:
    """The key with every dimension not in ``dimensions`` cleared (for a coarser grain)."""
    keep = set(dimensions)
    return key._replace(**{d: None for d in DIMENSIONS if d not in keep})


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


# --- ADD-maintained items -----------------------------------------------------------------------


def item_updates(changes: Mapping[RollupKey, RollupValues]) -> dict[str, dict[str, Decimal]]:
    """Every ``ADD`` a delta needs on the provider-side grains: item sort key (shard included) ->
    {attribute name: amount}. Amounts may be negative; zero amounts are left out."""
    updates: dict[str, dict[str, Decimal]] = {}
    for grain in ADDED_GRAINS:
        for period in PERIODS:
            for key, values in regrain(changes, grain, period).items():
                row = encode_row_key(key)
                shard = zlib.crc32(row.encode()) % SHARDS[grain]
                updates.setdefault(f"{sort_key(key.day, grain, period)}#{shard}", {}).update(_amounts(row, values))
    return {sk: attrs for sk, attrs in updates.items() if attrs}


def hourly_updates(changes: Mapping[RollupKey, RollupValues]) -> dict[str, dict[str, Decimal]]:
    """Every ``ADD`` a delta of hourly rows (``rollup.hourly_key``) needs: ``ph#<day>#<block>``
    -> {attribute name: amount}."""
    updates: dict[str, dict[str, Decimal]] = {}
    for key, values in changes.items():
        amounts = _amounts(key.day[11:13] + encode_row_key(key), values)
        updates.setdefault(hourly_item(key.day), {}).update(amounts)
    return {sk: attrs for sk, attrs in updates.items() if attrs}


def hourly_item(hour: str) -> str:
    """The sort key of the item holding an hour (``YYYY-MM-DDTHH``) of the hourly grain."""
    return f"{HOURLY}#{hour[:10]}#{int(hour[11:13]) // HOURS_PER_ITEM}"


def _amounts(name: str, values: RollupValues) -> dict[str, Decimal]:
    """The attributes of a row's non-zero values: ``<field><name>``."""
    amounts = (values.billed, values.estimated, values.units, values.count)
    return {code + name: Decimal(amount) for code, amount in zip(FIELD_CODES, amounts, strict=True) if amount}


def hourly_range(first: date, last: date) -> tuple[str, str]:
    """The inclusive sort-key range of the hour items of the days ``first..last``."""
    return f"{HOURLY}#{first.isoformat()}", f"{HOURLY}#{last.isoformat()}#~"


def rows_from_item(item_sort_key: str, attributes: Mapping[str, object]) -> Rows:
    """Rows stored in one ADD-maintained item (an hourly item's keyed by their hours); other
    attributes (pk, sk, v) and rows that have returned to zero are skipped."""
    head, _, rest = item_sort_key.partition("#")
    hourly = head == HOURLY
    day = rest.split("#", 1)[0] if hourly else parse_sort_key(item_sort_key)[0]
    acc: dict[tuple[str, str], list] = {}
    for name, raw in attributes.items():
        if not (_HOUR_ATTRIBUTE if hourly else _ATTRIBUTE).match(name):
            continue
        amount = parse_decimal(raw)
        index = FIELD_CODES.index(name[0])
        slot = (f"{day}T{name[1:3]}", name[3:]) if hourly else (day, name[1:])
        row = acc.setdefault(slot, [ZERO, ZERO, ZERO, ZERO])
        row[index] = CONTEXT.add(row[index], amount)
    rows: Rows = {}
    for (row_day, text), (billed, estimated, units, count) in acc.items():
        if count != count.to_integral_value():
            raise ValueError(f"rollup count is not an integer: {text!r}")
        values = RollupValues(billed, estimated, units, int(count))
        if not values.is_zero():
            rows[decode_row_key(row_day, text)] = values
    return rows


# --- per-chunk fine items -------------------------------------------------------------------------


def fine_blob(rows: Mapping[RollupKey, RollupValues]) -> bytes:
    """One chunk's every-dimension rows, compressed (the ``rows`` attribute of an ``af#`` item)."""
    table = sorted([encode_row_key(k), format(v.billed, "f"), format(v.estimated, "f"), format(v.units, "f"), v.count]
                   for k, v in rows.items())
    return zlib.compress(json.dumps(table, separators=(",", ":")).encode(), 9)


def fine_rows(day: str, blob: bytes) -> Rows:
    return {decode_row_key(day, key): RollupValues(Decimal(b), Decimal(e), Decimal(u), int(n))
            for key, b, e, u, n in json.loads(zlib.decompress(blob))}


# --- what a query reads ---------------------------------------------------------------------------


def read_ranges(start: date, end: date, granularity: str, dimensions: Iterable[str]) -> list[tuple[str, str]]:
    """Inclusive sort-key ranges a query reads (one ``Query ... BETWEEN low AND high#~`` each).

    The grain is the smallest with the query's dimensions. Month granularity reads month items
    for whole months and day items for the partial months at either end; day and week read days.
    """
    grain = grain_for(dimensions)

    def days(a: date, b: date) -> tuple[str, str]:
        return sort_key(a.isoformat(), grain), sort_key(b.isoformat(), grain)

    if granularity != "month" or grain not in MONTH_GRAINS:
        return [days(start, end)]
    first_full = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after_end = end + timedelta(days=1)
    last_full_end = after_end.replace(day=1) - timedelta(days=1)  # last day of the last whole month
    if first_full > last_full_end:
        return [days(start, end)]
    ranges: list[tuple[str, str]] = []
    if start < first_full:
        ranges.append(days(start, first_full - timedelta(days=1)))
    ranges.append((sort_key(first_full.isoformat(), grain, "m"), sort_key(last_full_end.isoformat(), grain, "m")))
    if last_full_end < end:
        ranges.append(days(after_end.replace(day=1), end))
    return ranges
