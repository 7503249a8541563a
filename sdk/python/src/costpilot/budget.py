"""The budget circuit breaker: ``GET /api/budget-status`` read with the ingest key.

``Client.budget_status(scope=...)`` answers from a per-scope cache for ``budget_cache_seconds``
(5, the endpoint's ``max-age``), so a guard in a hot loop makes at most one request per scope
every few seconds. It fails open: when CostPilot cannot be asked (no ingest key, network error,
timeout, 401, 5xx), it returns ``state="unknown"`` with the reason in ``error`` and never raises,
so an outage of CostPilot does not stop your product; ``raise_errors=True`` raises
``BudgetStatusError`` instead. A failed answer is cached like a good one (one slow try per
``budget_cache_seconds``, with ``budget_timeout`` seconds, 2, at most).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

PATH = "/api/budget-status"
STATES = ("ok", "warn", "over")


class BudgetStatusError(Exception):
    """The status could not be read (only raised with ``raise_errors=True``)."""


@dataclass(frozen=True)
class BudgetStatus:
    """``state`` is ``ok``, ``warn``, ``over``, or ``unknown`` when CostPilot could not be asked."""

    state: str
    spent: Decimal | None = None
    budget: Decimal | None = None
    currency: str | None = None
    period: str | None = None
    period_start: str | None = None
    resets_at: str | None = None
    scope: str | None = None
    alert_id: str | None = None
    error: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def over(self) -> bool:
        return self.state == "over"

    @property
    def known(self) -> bool:
        return self.state in STATES


def unknown(reason: str, scope: str | None) -> BudgetStatus:
    return BudgetStatus("unknown", scope=scope, error=reason)


def fetch(http: httpx.Client, scope: str | None, timeout: float) -> BudgetStatus:
    """One request; raises ``BudgetStatusError`` with the reason on any failure."""
    try:
        response = http.get(PATH, params={"scope": scope} if scope else None, timeout=timeout)
    except httpx.HTTPError as e:
        raise BudgetStatusError(f"{type(e).__name__}: {e}") from e
    if response.status_code != 200:
        message = response.text[:200]
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise BudgetStatusError(f"HTTP {response.status_code}: {message}")
    try:
        body = response.json()
        state = body["state"]
        if state not in STATES:
            raise ValueError(f"state {state!r}")
        return BudgetStatus(state, _money(body.get("spent")), _money(body.get("budget")), body.get("currency"),
                            body.get("period"), body.get("period_start"), body.get("resets_at"), body.get("scope"),
                            body.get("alert_id"), raw=body)
    except (ValueError, KeyError, TypeError, InvalidOperation) as e:
        raise BudgetStatusError(f"unexpected answer: {e}") from e


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
