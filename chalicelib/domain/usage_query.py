"""Usage queries over daily rollups: periods, groups, filters and the attribution rule.

``GET /api/workspaces/{id}/usage`` reads the rollup rows for the range (reads grow with days and
dimensions, never with events) and calls ``run_query``. Output columns per (period, group,
currency):

* ``spend``: what the team spent, by the attribution rule below. Sums to the true total.
* ``billed``: the providers' own bill (``cost`` records).
* ``estimated``: the catalogue estimate of synced usage (``usage`` records), to compare with
  ``billed``.
* ``units``: units of synced usage and pushed events. Units of different ``unit_type`` add up
  meaninglessly, so group or filter by ``unit_type`` to read them. Synced usage and pushed events
  of one provider can describe the same tokens: they differ in ``unit_type`` (``input_tokens``...
  vs ``tokens``).
* ``events``: number of pushed events.

Attribution (no double counting). A provider is *billed* on a day when it has ``cost`` rows that
day (its connection has delivered its bill) or it is listed in ``connected_providers``.

* Billed provider-days: spend is the bill. Pushed events only attribute it.
* Other provider-days: pushed events' cost (reported or estimated) is the spend.
* ``usage`` rows are never spend.

Attribution applies when the query groups or filters by ``project``, ``feature`` or
``customer`` (the pushed tags). Then each event is its own group's spend, and for a billed
provider the rest of the bill, ``remainder = billed - attributed`` per provider, period and
currency, is the ``(unattributed)`` group, which also carries the provider-side ``billed``,
``estimated`` and ``units`` (synced records have no tags; the ``project`` of a synced record is
the provider's project id, a different namespace, so it is not used to attribute). The remainder
is broken down by provider only: its other dimensions are ``None``. When events exceed the bill
(a partial bill for today, a missing sync, different model names...) the remainder is reported
as is, negative, never clamped, so totals still equal the bill; the point is flagged
``over_attributed`` and listed in ``UsageResult.over_attributed``. Filtering a tag hides the
remainder unless ``(unattributed)`` is one of the filter's values.

Days are UTC dates; weeks are ISO weeks (Monday start), months calendar months; a period is
labelled by its first day, and the first and last periods are clipped to the range.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from chalicelib.domain.money import CONTEXT, ZERO, to_str
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import DIMENSIONS, RecordKind

GRANULARITIES = ("day", "week", "month")
ATTRIBUTION_DIMENSIONS = ("project", "feature", "customer")
MAX_RANGE_DAYS = 731
MAX_FILTER_VALUES = 100
UNATTRIBUTED = "(unattributed)"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Days a query may name: far enough either way for any real history, and far from the calendar's
# ends so that period arithmetic (weeks, months, the default 30-day start) never overflows.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)


class QueryError(ValueError):
    """A usage query parameter we refuse; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _parse_date(name: str, value: object) -> date:
    if isinstance(value, datetime):
        raise QueryError(name, "expected a date, not a date and time")
    if isinstance(value, date):
        return _in_range(name, value)
    if not isinstance(value, str) or not value.strip():
        raise QueryError(name, "required, a UTC date YYYY-MM-DD")
    if not _DATE.fullmatch(value.strip()):
        raise QueryError(name, f"expected a date YYYY-MM-DD, got {value!r}")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(name, f"not a valid date: {value!r}") from None
    return _in_range(name, day)


def _in_range(name: str, day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise QueryError(name, f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}")
    return day


@dataclass(frozen=True)
class UsageQuery:
    start: date  # inclusive, UTC
    end: date  # inclusive, UTC
    granularity: str = "day"
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, frozenset[str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start, end = _parse_date("from", self.start), _parse_date("to", self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if start > end:
            raise QueryError("from", "must be on or before 'to'")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise QueryError("to", f"range is longer than {MAX_RANGE_DAYS} days")
        if self.granularity not in GRANULARITIES:
            raise QueryError("granularity", f"expected one of {', '.join(GRANULARITIES)}")
        group_by = tuple(self.group_by.split(",") if isinstance(self.group_by, str) else self.group_by)
        for dim in group_by:
            if dim not in DIMENSIONS:
                raise QueryError(
                    "group_by",
                    f"unknown dimension {dim!r}; expected any of {', '.join(DIMENSIONS)}",
                )
        if len(set(group_by)) != len(group_by):
            raise QueryError("group_by", "a dimension is repeated")
        object.__setattr__(self, "group_by", group_by)
        filters: dict[str, frozenset[str | None]] = {}
        for dim, values in dict(self.filters).items():
            if dim not in DIMENSIONS:
                raise QueryError(
                    dim,
                    f"unknown filter dimension; expected any of {', '.join(DIMENSIONS)}",
                )
            values = frozenset([values] if isinstance(values, str) or values is None else values)
            if not values:
                raise QueryError(dim, "filter needs at least one value")
            if len(values) > MAX_FILTER_VALUES:
                raise QueryError(dim, f"at most {MAX_FILTER_VALUES} values")
            for v in values:
                if v is not None and (not isinstance(v, str) or len(v) > 256):
                    raise QueryError(dim, "filter values must be strings of at most 256 characters")
            filters[dim] = values
        object.__setattr__(self, "filters", MappingProxyType(filters))

    @property
    def attribution(self) -> bool:
        """True when the query looks at pushed tags, so the attribution rule applies."""
        return any(d in ATTRIBUTION_DIMENSIONS for d in (*self.group_by, *self.filters))


def parse_query(params: Mapping[str, Any] | None, ignore: Collection[str] = ("format",)) -> UsageQuery:
    """A query from query-string parameters.

    ``from``, ``to`` (YYYY-MM-DD, inclusive, UTC), ``granularity`` (day|week|month, default day),
    ``group_by`` (comma-separated dimensions), and one filter per dimension named after it
    (``provider=openai,anthropic``; an empty item selects "not set": ``project=`` or
    ``project=a,``). Values may be strings or lists of strings (multi-value parameters).
    """
    params = dict(params or {})
    for name in ignore:
        params.pop(name, None)

    def items(name: str) -> list[str]:
        raw = params.pop(name, None)
        if raw is None:
            return []
        raw = [raw] if isinstance(raw, str) else list(raw)
        if not all(isinstance(r, str) for r in raw):
            raise QueryError(name, "must be a string")
        return [item.strip() for r in raw for item in r.split(",")]

    start, end = params.pop("from", None), params.pop("to", None)
    granularity = params.pop("granularity", None) or "day"
    if not isinstance(granularity, str):
        raise QueryError("granularity", "must be a string")
    group_by = tuple(g for g in items("group_by") if g)
    filters: dict[str, frozenset[str | None]] = {}
    for dim in DIMENSIONS:
        if dim in params:
            filters[dim] = frozenset(v or None for v in items(dim))
    if params:
        name = min(params)
        raise QueryError(name, "unknown parameter")
    return UsageQuery(
        _parse_date("from", start),
        _parse_date("to", end),
        granularity.strip().lower(),
        group_by,
        filters,
    )


def period_start(day: date, granularity: str) -> date:
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    raise QueryError("granularity", f"expected one of {', '.join(GRANULARITIES)}")


def periods(query: UsageQuery) -> list[date]:
    result, day = [], period_start(query.start, query.granularity)
    while day <= query.end:
        result.append(day)
        if query.granularity == "day":
            day += timedelta(days=1)
        elif query.granularity == "week":
            day += timedelta(days=7)
        else:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return result


# --- result ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    period: date
    group: tuple[tuple[str, str | None], ...]  # (dimension, value) in group_by order
    currency: str
    spend: Decimal
    billed: Decimal
    estimated: Decimal
    units: Decimal
    events: int
    unattributed: bool = False
    over_attributed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "group": dict(self.group),
            "currency": self.currency,
            **_money_json(self),
            "unattributed": self.unattributed,
            "over_attributed": self.over_attributed,
        }


@dataclass(frozen=True, slots=True)
class Totals:
    currency: str
    spend: Decimal
    billed: Decimal
    estimated: Decimal
    units: Decimal
    events: int

    def to_json(self) -> dict[str, Any]:
        return {"currency": self.currency, **_money_json(self)}


@dataclass(frozen=True, slots=True)
class OverAttribution:
    """Events of a billed provider add up to more than its bill for the period."""

    period: date
    provider: str
    currency: str
    billed: Decimal
    attributed: Decimal

    @property
    def remainder(self) -> Decimal:
        return CONTEXT.subtract(self.billed, self.attributed)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "provider": self.provider,
            "currency": self.currency,
            "billed": to_str(self.billed),
            "attributed": to_str(self.attributed),
            "remainder": to_str(self.remainder),
        }


def _money_json(v: Point | Totals) -> dict[str, Any]:
    return {
        "spend": to_str(v.spend),
        "billed": to_str(v.billed),
        "estimated": to_str(v.estimated),
        "units": to_str(v.units),
        "events": v.events,
    }


@dataclass(frozen=True)
class UsageResult:
    query: UsageQuery
    periods: tuple[date, ...]
    series: tuple[Point, ...]
    totals: tuple[Totals, ...]  # one per currency, sorted
    over_attributed: tuple[OverAttribution, ...] = ()

    def to_json(self) -> dict[str, Any]:
        q = self.query
        return {
            "from": q.start.isoformat(),
            "to": q.end.isoformat(),
            "granularity": q.granularity,
            "group_by": list(q.group_by),
            "filters": {d: sorted(v, key=_sort_value) for d, v in q.filters.items()},
            "periods": [p.isoformat() for p in self.periods],
            "series": [p.to_json() for p in self.series],
            "totals": [t.to_json() for t in self.totals],
            "over_attributed": [o.to_json() for o in self.over_attributed],
        }


def _sort_value(value: str | None) -> tuple[int, str]:
    if value is None:
        return (1, "")
    if value == UNATTRIBUTED:
        return (2, "")
    return (0, value)


# --- the computation ---------------------------------------------------------------------------


class _Acc:
    __slots__ = ("billed", "estimated", "events", "providers", "spend", "units")

    def __init__(self) -> None:
        self.spend = self.billed = self.estimated = self.units = ZERO
        self.events = 0
        self.providers: set[str] = set()


def _as_date(day: object) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def run_query(
    rows: Iterable[tuple[str | date, RollupKey, RollupValues]],
    query: UsageQuery,
    connected_providers: Collection[str] = (),
) -> UsageResult:
    """Series and totals for ``query`` from the rollup rows of its range (rows outside are ignored).

    ``connected_providers``: providers whose bill is the spend on every day of the range even
    before their sync has delivered that day (otherwise a provider is billed on the days it has
    ``cost`` rows).
    """
    add = CONTEXT.add
    in_range: list[tuple[date, RollupKey, RollupValues]] = []
    billed_days: set[tuple[date, str]] = set()
    for day, key, values in rows:
        d = _as_date(day)
        if not (query.start <= d <= query.end) or values.is_zero():
            continue
        in_range.append((d, key, values))
        if key.kind is RecordKind.COST:
            billed_days.add((d, key.provider))  # decided before filters: a property of the data
    connected = frozenset(connected_providers)

    attribution = query.attribution
    group_by = query.group_by
    other_filters = [(d, v) for d, v in query.filters.items() if d not in ATTRIBUTION_DIMENSIONS]
    tag_filters = [(d, v) for d, v in query.filters.items() if d in ATTRIBUTION_DIMENSIONS]
    show_unattributed = all(UNATTRIBUTED in v for _, v in tag_filters)

    def group_of(key: RollupKey) -> tuple[str | None, ...]:
        return tuple(key.dimension(d) for d in group_by)

    def unattributed_group(provider: str) -> tuple[str | None, ...]:
        return tuple(
            UNATTRIBUTED if d in ATTRIBUTION_DIMENSIONS else provider if d == "provider" else None
            for d in group_by
        )

    accs: dict[tuple[date, str, tuple[str | None, ...], bool], _Acc] = {}

    def acc_for(period: date, currency: str, group: tuple[str | None, ...], unattributed: bool) -> _Acc:
        k = (period, currency, group, unattributed)
        acc = accs.get(k)
        if acc is None:
            acc = accs[k] = _Acc()
        return acc

    bills: dict[tuple[date, str, str], Decimal] = {}
    attributed: dict[tuple[date, str, str], Decimal] = {}

    for day, key, v in in_range:
        if any(key.dimension(d) not in allowed for d, allowed in other_filters):
            continue
        period = period_start(day, query.granularity)
        provider, currency = key.provider, key.currency
        pkey = (period, provider, currency)
        if key.kind is RecordKind.EVENT:
            cost = add(v.billed, v.estimated)
            billed_day = (day, provider) in billed_days or provider in connected
            if billed_day:
                attributed[pkey] = add(attributed.get(pkey, ZERO), cost)
                if attribution and show_unattributed:
                    acc = acc_for(period, currency, unattributed_group(provider), True)
                    acc.spend = add(acc.spend, -cost)
                    acc.providers.add(provider)
            if any(key.dimension(d) not in allowed for d, allowed in tag_filters):
                continue
            acc = acc_for(period, currency, group_of(key), False)
            if attribution or not billed_day:
                acc.spend = add(acc.spend, cost)
            acc.units = add(acc.units, v.units)
            acc.events += v.count
            continue
        # synced rows: cost (the bill) and usage (analytics)
        if key.kind is RecordKind.COST:
            bills[pkey] = add(bills.get(pkey, ZERO), v.billed)
        if attribution:
            if not show_unattributed:
                continue
            acc = acc_for(period, currency, unattributed_group(provider), True)
            acc.providers.add(provider)
        else:
            acc = acc_for(period, currency, group_of(key), False)
        if key.kind is RecordKind.COST:
            acc.spend = add(acc.spend, v.billed)
            acc.billed = add(acc.billed, v.billed)
            acc.estimated = add(acc.estimated, v.estimated)
        else:
            acc.estimated = add(acc.estimated, v.estimated)
            acc.units = add(acc.units, v.units)

    over = tuple(
        sorted(
            (
                OverAttribution(
                    period,
                    provider,
                    currency,
                    bills.get((period, provider, currency), ZERO),
                    amount,
                )
                for (period, provider, currency), amount in attributed.items()
                if amount > bills.get((period, provider, currency), ZERO)
            ),
            key=lambda o: (o.period, o.currency, o.provider),
        )
    )
    over_keys = {(o.period, o.provider, o.currency) for o in over}

    series = []
    for (period, currency, group, unattributed), acc in accs.items():
        series.append(
            Point(
                period,
                tuple(zip(group_by, group)),
                currency,
                acc.spend,
                acc.billed,
                acc.estimated,
                acc.units,
                acc.events,
                unattributed,
                unattributed and any((period, p, currency) in over_keys for p in acc.providers),
            )
        )
    series.sort(
        key=lambda p: (
            p.period,
            p.currency,
            p.unattributed,
            [_sort_value(v) for _, v in p.group],
        )
    )

    totals: dict[str, list] = {}
    for p in series:
        t = totals.setdefault(p.currency, [ZERO, ZERO, ZERO, ZERO, 0])
        t[0], t[1], t[2], t[3] = (
            add(t[0], p.spend),
            add(t[1], p.billed),
            add(t[2], p.estimated),
            add(t[3], p.units),
        )
        t[4] += p.events
    return UsageResult(
        query,
        tuple(periods(query)),
        tuple(series),
        tuple(Totals(c, *totals[c]) for c in sorted(totals)),
        over,
    )
