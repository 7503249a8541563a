"""Daily rollups: the exact arithmetic behind every usage query (DESIGN.md invariant 3).

A rollup row sums the records that share a key::

    (day, kind, currency, provider, model, project, feature, customer, api_key, unit_type)
      -> billed, estimated, units (Decimal), count (int)

The store keeps the rows in the same atomic step that writes the records, adding
``delta(old, new)`` (the rows of the new records minus those of the records they replace), and
can always recompute them as ``rebuild(records)``; both give the same rows, exactly, because every
sum is an exact ``Decimal`` (``money.CONTEXT`` raises rather than round). ``None`` and ``""``
dimension values are the same "not set" value. The hourly provider grain is kept the same way:
``rebuild`` and ``delta`` with ``row_of=hourly_key``. How rows are laid out in DynamoDB (grains,
periods, sort keys, attribute names) is the store's business: ``store/rollup_layout.py``.

What the values mean per kind (``usage_query`` relies on this):

* ``cost`` rows: ``billed`` is the provider's bill (the spend truth), ``estimated`` any estimate
  the adapter attached.
* ``usage`` rows: ``estimated`` is the catalogue estimate of the synced units; never spend.
* ``event`` rows (pushed): ``billed`` sums the costs the client *reported*, ``estimated`` the
  catalogue estimates of events that came without a cost. An event sets one or the other, never
  both, so the events' cost is ``billed + estimated`` with no double counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import NamedTuple

from chalicelib.domain.money import CONTEXT, ZERO
from chalicelib.domain.usage import DIMENSIONS, RecordKind, UsageRecord


class RollupKey(NamedTuple):
    day: str  # UTC YYYY-MM-DD; on the hourly grain the hour, YYYY-MM-DDTHH
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
_DAY = timedelta(days=1)


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


def hourly_key(record: UsageRecord) -> RollupKey | None:
    """The record's row on the hourly provider grain: its bucket's UTC start hour, the provider
    and nothing finer. Only spend kinds (cost, event) whose bucket is shorter than a day (pushed
    events, sub-day bills) count: a day's bill stays daily-only (at its day's first hour it would
    be a spike every midnight) and ``usage`` records are never spend (``None``: no row)."""
    if record.kind is RecordKind.USAGE or record.bucket_end - record.bucket_start >= _DAY:
        return None
    hour = record.bucket_start.astimezone(UTC).strftime("%Y-%m-%dT%H")
    return RollupKey(hour, record.kind, record.currency, record.provider)


def contribution(record: UsageRecord) -> tuple[RollupKey, RollupValues]:
    """The one row a record adds to, and what it adds (count 1)."""
    values = RollupValues(
        record.billed_cost if record.billed_cost is not None else ZERO,
        record.estimated_cost if record.estimated_cost is not None else ZERO,
        record.units,
        1,
    )
    return key_of(record), values


KeyOf = Callable[[UsageRecord], RollupKey | None]


def rebuild(records: Iterable[UsageRecord], row_of: KeyOf = key_of) -> Rows:
    """All rollup rows recomputed from the records (each record once: the store's keys ensure it);
    ``row_of`` gives a record's row (``hourly_key``: the hourly grain; ``None``: no row)."""
    add = CONTEXT.add
    acc: dict[RollupKey, list] = {}
    for record in records:
        key = row_of(record)
        if key is None:
            continue
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


def delta(old: Iterable[UsageRecord], new: Iterable[UsageRecord], row_of: KeyOf = key_of) -> Rows:
    """Rows to add when the records ``old`` are replaced by ``new`` (an insert: ``old`` empty;
    a restated day: both). Rows that do not change are left out."""
    changes = rebuild(new, row_of)
    for key, values in rebuild(old, row_of).items():
        changes[key] = changes[key] - values if key in changes else -values
    return {key: values for key, values in changes.items() if not values.is_zero()}
