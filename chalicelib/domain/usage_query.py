"""A usage query: the range, granularity, groups and filters of ``GET /api/workspaces/{id}/usage``,
parsed from its parameters and refused with a field-named ``QueryError``, and the periods it
covers. Days are UTC dates; weeks are ISO weeks (Monday start), months calendar months; a period
is labelled by its first day, and the first and last periods are clipped to the range. Computing
the answer from rollup rows is ``usage_compute``; its shape is ``usage_result``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from chalicelib.domain.usage import DIMENSIONS

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
