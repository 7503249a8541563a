"""The budget circuit breaker's answer: is this scope's budget ok, near (warn) or over?

Pure: no AWS, no clock. Each alert evaluation turns the workspace's budget alerts into small
entries (``entry``: spent so far in the current period, the budget, the warning level, when the
period resets); ``GET /api/budget-status`` reads them back and answers from the tightest entry that
covers the asked scope (``answer``), without querying usage.

Which alerts cover a scope: budget alerts on exactly that scope, and the workspace-wide ones (all
spend), since spending on the scope adds to the whole. Without a scope, only workspace-wide alerts.
The state is ``over`` from 100 % of the budget, ``warn`` from the alert's warning level (its
highest level under 100 %, else 80 %), else ``ok``. When no budget alert covers the scope the answer
is ``ok`` with ``budget`` null: nothing limits it.

A fixed period (day, ISO week, month) that has ended since the evaluation reads as the new period,
with nothing spent, until the next evaluation (a push or the 5-minute sweep) writes it; a rolling
window keeps its last evaluated figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.alerts import SCOPE_DIMENSIONS, Period, Scope, window
from chalicelib.domain.money import CONTEXT, to_str

MAX_SCOPE_VALUE = 200
DEFAULT_WARN_PERCENT = 80
OK, WARN, OVER = "ok", "warn", "over"
_SEVERITY = {OK: 0, WARN: 1, OVER: 2}


class BadScope(ValueError):
    """A ``scope`` that is not ``<dimension>:<value>``."""


def parse_scope(text: str | None) -> str:
    """The canonical scope key: ``""`` (all spend) or ``dimension:value``."""
    if text is None or text == "":
        return ""
    dimension, sep, value = text.partition(":")
    dimension, value = dimension.strip().lower(), value.strip()
    if not sep or dimension not in SCOPE_DIMENSIONS:
        raise BadScope(f"scope must be <dimension>:<value> with dimension one of {', '.join(SCOPE_DIMENSIONS)}")
    if not value or len(value) > MAX_SCOPE_VALUE or any(ord(c) < 32 for c in value):
        raise BadScope(f"scope value must be 1 to {MAX_SCOPE_VALUE} printable characters")
    return f"{dimension}:{value}"


def scope_key(scope: Scope) -> str:
    return f"{scope.dimension}:{scope.value}" if scope.dimension else ""


def warn_percent(levels: Iterable[int]) -> int:
    """The alert's warning level: its highest level under 100 %, else 80 %."""
    under = [level for level in levels if level < 100]
    return max(under) if under else DEFAULT_WARN_PERCENT


def resets_at(period: Period, today: date) -> datetime:
    """When the current period's spend starts again from zero (a rolling window: when it next
    moves, at the next UTC midnight)."""
    end = window(period, today).end if period.kind != "rolling" else today
    return datetime.combine(end + timedelta(days=1), time(0), UTC)


def entry(*, alert_id: str, scope: Scope, period: Period, today: date, spent: Decimal, budget: Decimal,
          currency: str, levels: Iterable[int]) -> dict[str, Any]:
    """What one evaluation stores for one budget alert (JSON-ready, money as strings)."""
    w = window(period, today)
    return {
        "alert_id": alert_id, "scope": scope_key(scope), "period": period.to_dict(),
        "period_start": w.start.isoformat(), "period_end": w.end.isoformat(),
        "spent": to_str(spent), "budget": to_str(budget), "currency": currency,
        "warn_percent": warn_percent(levels),
    }


def state_of(spent: Decimal, budget: Decimal, warn: int) -> str:
    """Exact: 80 % of $50 is $40.00, so $40.00 spent warns."""
    if spent >= budget:
        return OVER
    if spent * 100 >= budget * warn:
        return WARN
    return OK


def _current(e: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The entry as of ``today``: a fixed period that has ended reads as the next, nothing spent."""
    period = Period(**e["period"])
    spent = Decimal(e["spent"])
    start = date.fromisoformat(e["period_start"])
    if period.kind != "rolling" and today > date.fromisoformat(e["period_end"]):
        start, spent = window(period, today).start, Decimal(0)
    budget, warn = Decimal(e["budget"]), int(e["warn_percent"])
    return {
        "state": state_of(spent, budget, warn), "spent": to_str(spent), "budget": to_str(budget),
        "currency": e["currency"], "period": period.kind if period.kind != "rolling" else f"rolling_{period.days}d",
        "period_start": start.isoformat(), "resets_at": resets_at(period, max(today, start)).isoformat(),
        "warn_at": to_str(CONTEXT.divide(CONTEXT.multiply(budget, Decimal(warn)), Decimal(100))),
        "alert_id": e["alert_id"],
        "_ratio": spent / budget if budget > 0 else Decimal(0),
    }


def answer(entries: Iterable[Mapping[str, Any]], scope: str, today: date) -> dict[str, Any]:
    """The answer for ``scope`` (a ``parse_scope`` key): the tightest covering budget."""
    covering = [_current(e, today) for e in entries if e.get("scope") in {scope, ""}]
    if not covering:
        return {"state": OK, "spent": None, "budget": None, "currency": None, "period": None,
                "period_start": None, "resets_at": None, "warn_at": None, "alert_id": None, "scope": scope or None}
    best = max(covering, key=lambda a: (_SEVERITY[a["state"]], a["_ratio"], a["alert_id"]))
    best.pop("_ratio")
    return {**best, "scope": scope or None}
