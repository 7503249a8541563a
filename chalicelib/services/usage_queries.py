"""Usage and spend queries over the rollups (reads grow with days and dimensions, not events)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain import finality, hourly_spend, plans, usage_compute, usage_query
from chalicelib.domain.usage_query import QueryError, UsageQuery
from chalicelib.domain.usage_result import UsageResult
from chalicelib.errors import ValidationFailed
from chalicelib.services import plan_limits
from chalicelib.store import usage


def clock() -> datetime:
    """The read path's one clock: which day is today and which provider-days are still provisional."""
    return datetime.now(UTC)


def today() -> date:
    return clock().date()


def parse(params: Mapping[str, Any] | None) -> UsageQuery:
    """The query from request parameters; defaults to the last 30 UTC days."""
    params = dict(params or {})
    params.setdefault("to", today().isoformat())
    if "from" not in params:
        try:
            params["from"] = (date.fromisoformat(params["to"]) - timedelta(days=29)).isoformat()
        except (TypeError, ValueError, OverflowError):  # to=0001-01-01: parse_query says what is wrong
            params["from"] = params["to"]
    try:
        return usage_query.parse_query(params)
    except QueryError as e:
        raise ValidationFailed(e.message, field=e.field) from None


def earliest_day(workspace_id: str, plan: plans.Plan | None = None) -> date:
    """The first UTC day the workspace's plan lets any read see (usage, CSV, forecast, insights);
    ``plan``: the workspace's plan, when the caller has it already."""
    return plans.clip_history(plan or plan_limits.current_plan(workspace_id), date.min, today())[0]


def run_within_plan(workspace_id: str, query: UsageQuery) -> tuple[UsageResult, dict | None]:
    """The query's result inside the plan's history window, and the notice when it was clipped.
    A range wholly before the window (one old day included) answers no spend."""
    clipped, notice = clip_to_plan(workspace_id, query)
    if notice and date.fromisoformat(notice["from"]) > query.end:
        return usage_compute.run_query(iter(()), clipped, now=clock()), notice
    return run(workspace_id, clipped), notice


def clip_to_plan(workspace_id: str, query: UsageQuery,
                 plan: plans.Plan | None = None) -> tuple[UsageQuery, dict | None]:
    """Clips the start to the plan's history window; says so when it does (``from`` is the
    window's first day, after ``to`` when the whole range is older)."""
    plan = plan or plan_limits.current_plan(workspace_id)
    earliest, clipped = plans.clip_history(plan, query.start, today())
    if not clipped:
        return query, None
    start = min(earliest, query.end)
    notice = {"code": "history_clipped", "requested_from": query.start.isoformat(), "from": earliest.isoformat(),
              "plan": plan.name,
              "message": f"The {plan.title} plan shows {plan.limit(plans.Limit.HISTORY_DAYS)} days of history."}
    return UsageQuery(start, query.end, query.granularity, query.group_by, query.filters), notice


def run(workspace_id: str, query: UsageQuery, now: datetime | None = None) -> UsageResult:
    """The query's result at ``now`` (default: the clock), which decides the provisional days."""
    now = now or clock()
    rows = usage.query_rows(workspace_id, query, provisional_from=finality.first_provisional_day(now))
    return usage_compute.run_query(rows, query, now=now)


def daily_spend(workspace_id: str, start: date, end: date, filters: Mapping[str, frozenset] | None = None,
                group_by: tuple[str, ...] = (), now: datetime | None = None) -> UsageResult:
    """Spend per UTC day over ``start..end`` (inclusive), optionally filtered and grouped; days the
    providers have not finished billing read the provisional spend (``usage_query``)."""
    return run(workspace_id, UsageQuery(start, end, "day", group_by, dict(filters or {})), now)


def daily_rows(workspace_id: str, start: date, end: date, dimensions: tuple[str, ...],
               now: datetime) -> list[tuple[str, Any, Any]]:
    """The rollup rows of ``start..end`` at the grain holding ``dimensions`` (provisional days as
    ``run`` reads them): one read for several ``daily_spend_of`` over parts of it."""
    query = UsageQuery(start, end, "day", dimensions, {})
    return list(usage.query_rows(workspace_id, query, provisional_from=finality.first_provisional_day(now)))


def daily_spend_of(rows: list[tuple[str, Any, Any]], start: date, end: date, group_by: tuple[str, ...],
                   now: datetime, filters: Mapping[str, frozenset] | None = None) -> UsageResult:
    """``daily_spend`` computed over rows ``daily_rows`` read (at a grain holding ``group_by`` and
    the filters' dimensions; rows outside ``start..end`` are ignored)."""
    return run_over(rows, UsageQuery(start, end, "day", group_by, dict(filters or {})), now)


def run_over(rows: list[tuple[str, Any, Any]], query: UsageQuery, now: datetime) -> UsageResult:
    """``run`` over rows ``daily_rows`` read (a range and grain holding the query's)."""
    return usage_compute.run_query(rows, query, now=now)


def spend_by_day(result: UsageResult, currency: str = "USD") -> dict[date, Decimal]:
    """Total spend per period of a result, in one currency (groups summed)."""
    totals: dict[date, Decimal] = {p: Decimal(0) for p in result.periods}
    for point in result.series:
        if point.currency == currency:
            totals[point.period] = totals.get(point.period, Decimal(0)) + point.spend
    return totals


def spend_by_hour_and_provider(workspace_id: str, first: date, last: date, currency: str
                               ) -> dict[tuple[str, str], Decimal]:
    """Spend per (UTC hour ``YYYY-MM-DDTHH``, provider) over the days ``first..last``, from the
    hourly provider grain (``domain.hourly_spend``: pushed events and sub-day bills) in one Query."""
    return hourly_spend.by_hour_and_provider(usage.hourly_rows(workspace_id, first, last), currency)
