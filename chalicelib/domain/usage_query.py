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

* Final provider-days (``finality``: the provider has finished billing the day) that are billed:
  spend is the bill. Pushed events only attribute it.
* Provisional provider-days (the bill may still grow): spend is the larger of the bill so far and
  the pushed events' cost, per model where both name it and over the provider's other rows
  otherwise (``reconcile``). When the bill is larger the events attribute it; when the events are
  larger they are the spend and the bill rows add no spend (their ``billed`` still shows). So a
  partial bill never lowers spend, and a runaway reported by code shows before the bill does.
* Other provider-days: pushed events' cost (reported or estimated) is the spend.
* ``usage`` rows are never spend.

Every point and total says ``state``: ``provisional`` if any provider-day in it is provisional,
else ``final``; ``provisional_spend`` is the part of ``spend`` from provisional provider-days (so
``spend - provisional_spend`` is final), and ``UsageResult.provisional`` lists the provisional
provider-days with the moment each becomes final. ``run_query`` without ``now`` treats every day
as final.

Attribution applies when the query groups or filters by ``project``, ``feature`` or
``customer`` (the pushed tags). Then each event is its own group's spend, and for a billed
provider the rest of the bill, ``remainder = billed - attributed`` per provider, period and
currency, is the ``(unattributed)`` group, which also carries the provider-side ``billed``,
``estimated`` and ``units`` (synced records have no tags; the ``project`` of a synced record is
the provider's project id, a different namespace, so it is not used to attribute). The remainder
is broken down by provider only: its other dimensions are ``None``. When events exceed a final
bill (catalogue prices above the bill, events pushed twice, a key outside the connection, a
missing sync...) the remainder is reported as is, negative, never clamped, so totals still equal
the bill; the point is flagged ``over_attributed`` and listed in ``UsageResult.over_attributed``
with its likely causes. A provisional day is never over-attributed (events above the bill so far
are the spend). Filtering a tag hides the remainder unless ``(unattributed)`` is one of the
filter's values.

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

from chalicelib.domain import finality, reconcile
from chalicelib.domain.money import CONTEXT, ZERO, to_str
from chalicelib.domain.reconcile import Cause
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
    provisional: bool = False
    provisional_spend: Decimal = ZERO

    @property
    def state(self) -> str:
        return finality.PROVISIONAL if self.provisional else finality.FINAL

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
    provisional: bool = False
    provisional_spend: Decimal = ZERO

    @property
    def state(self) -> str:
        return finality.PROVISIONAL if self.provisional else finality.FINAL

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
    causes: tuple[Cause, ...] = ()  # likely causes, most likely first (reconcile.likely_causes)

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
            "likely_causes": [c.to_json() for c in self.causes],
        }


@dataclass(frozen=True, slots=True)
class ProvisionalDay:
    """A provider-day in the range whose bill may still change, and when it becomes final."""

    day: date
    provider: str

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "provider": self.provider,
                "final_at": finality.final_at(self.provider, self.day).isoformat()}


def _money_json(v: Point | Totals) -> dict[str, Any]:
    return {
        "spend": to_str(v.spend),
        "state": v.state,
        "provisional_spend": to_str(v.provisional_spend),
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
    provisional: tuple[ProvisionalDay, ...] = ()

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
            "provisional": [p.to_json() for p in self.provisional],
        }


def _sort_value(value: str | None) -> tuple[int, str]:
    if value is None:
        return (1, "")
    if value == UNATTRIBUTED:
        return (2, "")
    return (0, value)


# --- the computation ---------------------------------------------------------------------------


class _Acc:
    __slots__ = ("billed", "estimated", "events", "providers", "provisional", "provisional_spend", "spend", "units")

    def __init__(self) -> None:
        self.spend = self.billed = self.estimated = self.units = self.provisional_spend = ZERO
        self.events = 0
        self.provisional = False
        self.providers: set[str] = set()

    def add_spend(self, amount: Decimal, provisional: bool) -> None:
        self.spend = CONTEXT.add(self.spend, amount)
        if provisional:
            self.provisional = True
            self.provisional_spend = CONTEXT.add(self.provisional_spend, amount)


class _Check:
    """A final billed provider-period: the bill, what events attribute to it, and the evidence."""

    __slots__ = ("attributed", "billed", "estimated", "event_units", "provider_units")

    def __init__(self) -> None:
        self.billed = self.attributed = self.estimated = self.event_units = ZERO
        self.provider_units: Decimal | None = None


def _as_date(day: object) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def run_query(
    rows: Iterable[tuple[str | date, RollupKey, RollupValues]],
    query: UsageQuery,
    connected_providers: Collection[str] = (),
    now: datetime | None = None,
) -> UsageResult:
    """Series and totals for ``query`` from the rollup rows of its range (rows outside are ignored).

    ``connected_providers``: providers whose bill is the spend on every final day of the range
    even before their sync has delivered that day (otherwise a provider is billed on the days it
    has ``cost`` rows). ``now``: decides which provider-days are provisional (``finality``);
    ``None`` treats every day as final. Rows of provisional days must carry the ``model``
    dimension (read at a grain that has it) so bill and events compare per model.
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
    sides = reconcile.decide(in_range, now)  # also before filters

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

    checks: dict[tuple[date, str, str], _Check] = {}  # final billed provider-days, per period

    def check_for(pkey: tuple[date, str, str]) -> _Check:
        check = checks.get(pkey)
        if check is None:
            check = checks[pkey] = _Check()
        return check

    for day, key, v in in_range:
        if any(key.dimension(d) not in allowed for d, allowed in other_filters):
            continue
        period = period_start(day, query.granularity)
        provider, currency = key.provider, key.currency
        pkey = (period, provider, currency)
        provisional = sides.is_provisional(day, provider)
        if key.kind is RecordKind.EVENT:
            cost = add(v.billed, v.estimated)
            if provisional:
                billed_day = sides.bill_is_spend(day, key)
            else:
                billed_day = (day, provider) in billed_days or provider in connected
                if billed_day:
                    check = check_for(pkey)
                    check.attributed = add(check.attributed, cost)
                    check.estimated = add(check.estimated, v.estimated)
                    check.event_units = add(check.event_units, v.units)
            if billed_day and attribution and show_unattributed:
                acc = acc_for(period, currency, unattributed_group(provider), True)
                acc.add_spend(-cost, provisional)
                acc.providers.add(provider)
            if any(key.dimension(d) not in allowed for d, allowed in tag_filters):
                continue
            acc = acc_for(period, currency, group_of(key), False)
            acc.add_spend(cost if attribution or not billed_day else ZERO, provisional)
            acc.units = add(acc.units, v.units)
            acc.events += v.count
            continue
        # synced rows: cost (the bill) and usage (analytics)
        if not provisional:
            if key.kind is RecordKind.COST:
                check = check_for(pkey)
                check.billed = add(check.billed, v.billed)
            else:  # the provider's own count of units: evidence when events exceed its bill
                check = check_for(pkey)
                check.provider_units = add(check.provider_units or ZERO, v.units)
        if attribution:
            if not show_unattributed:
                continue
            acc = acc_for(period, currency, unattributed_group(provider), True)
            acc.providers.add(provider)
        else:
            acc = acc_for(period, currency, group_of(key), False)
        if key.kind is RecordKind.COST:
            spend = v.billed if not provisional or sides.bill_is_spend(day, key) else ZERO
            acc.add_spend(spend, provisional)
            acc.billed = add(acc.billed, v.billed)
            acc.estimated = add(acc.estimated, v.estimated)
        else:
            acc.estimated = add(acc.estimated, v.estimated)
            acc.units = add(acc.units, v.units)
            acc.provisional = acc.provisional or provisional

    over = tuple(
        sorted(
            (
                OverAttribution(
                    period,
                    provider,
                    currency,
                    c.billed,
                    c.attributed,
                    reconcile.likely_causes(provider, c.billed, c.attributed, c.estimated, c.event_units,
                                            c.provider_units),
                )
                for (period, provider, currency), c in checks.items()
                if c.attributed > c.billed
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
                tuple(zip(group_by, group, strict=True)),
                currency,
                acc.spend,
                acc.billed,
                acc.estimated,
                acc.units,
                acc.events,
                unattributed,
                unattributed and any((period, p, currency) in over_keys for p in acc.providers),
                acc.provisional,
                acc.provisional_spend,
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
        t = totals.setdefault(p.currency, [ZERO, ZERO, ZERO, ZERO, 0, False, ZERO])
        t[0], t[1], t[2], t[3] = (
            add(t[0], p.spend),
            add(t[1], p.billed),
            add(t[2], p.estimated),
            add(t[3], p.units),
        )
        t[4] += p.events
        t[5] = t[5] or p.provisional
        t[6] = add(t[6], p.provisional_spend)
    return UsageResult(
        query,
        tuple(periods(query)),
        tuple(series),
        tuple(Totals(c, *totals[c]) for c in sorted(totals)),
        over,
        tuple(ProvisionalDay(d, p) for d, p in sorted(sides.provisional)),
    )
