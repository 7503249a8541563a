"""The answer to a usage query: points per period and group, totals per currency, the
over-attributed and provisional provider-days, and their JSON (see ``usage_compute`` for what
each column means)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.domain import finality
from chalicelib.domain.money import CONTEXT, ZERO, to_str
from chalicelib.domain.reconcile import Cause
from chalicelib.domain.usage_query import UNATTRIBUTED, UsageQuery


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
            "filters": {d: sorted(v, key=sort_value) for d, v in q.filters.items()},
            "periods": [p.isoformat() for p in self.periods],
            "series": [p.to_json() for p in self.series],
            "totals": [t.to_json() for t in self.totals],
            "over_attributed": [o.to_json() for o in self.over_attributed],
            "provisional": [p.to_json() for p in self.provisional],
        }


def sort_value(value: str | None) -> tuple[int, str]:
    if value is None:
        return (1, "")
    if value == UNATTRIBUTED:
        return (2, "")
    return (0, value)
