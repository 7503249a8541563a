"""A usage query computed over daily rollups: groups, filters and the attribution rule.

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
day (its connection has delivered its bill).

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

Periods, groups and filters are those of the parsed ``usage_query.UsageQuery``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain import reconcile
from chalicelib.domain.money import CONTEXT, ZERO
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind
from chalicelib.domain.usage_query import ATTRIBUTION_DIMENSIONS, UNATTRIBUTED, UsageQuery, period_start, periods
from chalicelib.domain.usage_result import OverAttribution, Point, ProvisionalDay, Totals, UsageResult, sort_value


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
    now: datetime | None = None,
) -> UsageResult:
    """Series and totals for ``query`` from the rollup rows of its range (rows outside are ignored).

    A provider is billed on the days it has ``cost`` rows. ``now``: decides which provider-days
    are provisional (``finality``); ``None`` treats every day as final. Rows of provisional days
    must carry the ``model`` dimension (read at a grain that has it) so bill and events compare
    per model.
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
                billed_day = (day, provider) in billed_days
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
            [sort_value(v) for _, v in p.group],
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
