"""What the OpenAI and Anthropic fakes share: an admin key, a seeded per-day usage ledger whose
cost rows each fake derives with its own prices, and the organization's API keys (which the key
admin endpoints list, stop, start or delete)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import FakeProvider

LEAK_PATH = "/_fake/leak"  # not a provider API: the local stack's control to stage a leaked key


@dataclass
class FakeKey:
    """One of the organization's API keys: ``status`` active | inactive | archived | deleted."""

    id: str
    name: str
    project_id: str | None  # OpenAI project keys; Anthropic keys name a workspace instead
    created_at: datetime
    status: str = "active"


class LedgerFake(FakeProvider):
    """A usage/cost provider fake. Subclasses set ``default_admin_key``, ``api_keys`` (key id ->
    project or workspace), ``amount_per_dollar`` (what its cost rows' amounts are in), and
    implement ``_seed_day`` and ``cost_rows``.

    ``limited_keys``: admin keys that authenticate and read usage but may not manage API keys
    (the key admin endpoints answer 403 for them)."""

    default_admin_key = ""
    api_keys: ClassVar[dict[str, str | None]] = {}
    amount_per_dollar = Decimal(1)

    def __init__(self, *, seed: int = 0, now: Callable[[], datetime] | None = None, history_days: int = 45,
                 admin_key: str | None = None, billing_lag: timedelta = timedelta(0),
                 background_per_second: Decimal = Decimal(0), limited_keys: Iterable[str] = ()) -> None:
        super().__init__(seed=seed, now=now, history_days=history_days, billing_lag=billing_lag,
                         background_per_second=background_per_second)
        self.admin_key = admin_key or self.default_admin_key
        self.limited_keys = set(limited_keys)
        self.usage: list[Any] = []
        self.cost_overrides: dict[tuple, Decimal] = {}
        created = self.now() - timedelta(days=history_days + 30)
        self.keys = {key_id: FakeKey(key_id, f"Key {i + 1}", project, created)
                     for i, (key_id, project) in enumerate(self.api_keys.items())}
        for day in self.ledger_days():
            self._seed_day(day)

    def _seed_day(self, day: date) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def cost_rows(self, day: date) -> list[dict[str, Any]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def days(self, start: date | None, end: date | None) -> list[date]:
        """The ledger's days in ``[start, end)`` (either end open)."""
        return [d for d in self.ledger_days() if (start is None or d >= start) and (end is None or d < end)]

    def billed_total(self, start: date | None = None, end: date | None = None) -> Decimal:
        """Total billed in USD over days ``[start, end)`` (default: the whole ledger)."""
        amount = sum((row["amount"] for day in self.days(start, end) for row in self.cost_rows(day)), Decimal(0))
        return amount / self.amount_per_dollar

    # -- API keys --------------------------------------------------------------------------------

    def key_status(self, key_id: str) -> str:
        key = self.keys.get(key_id)
        return key.status if key else "deleted"

    def may_manage_keys(self, presented: str | None) -> bool:
        return presented == self.admin_key

    def authenticates(self, presented: str | None) -> bool:
        return presented == self.admin_key or presented in self.limited_keys

    def grow_today(self, *, api_key: str, **tokens: Any) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def leak(self, api_key: str | None = None, times: int = 40) -> str:
        """Today's traffic on one key (default: the last) explodes, as a leaked key's would."""
        key = api_key or list(self.keys)[-1]
        for _ in range(times):
            self.grow_today(api_key=key, output_tokens=400_000)
        return key

    def _dispatch(self, request: Request) -> Response:
        if request.path == LEAK_PATH and request.method == "POST":
            key = request.args.get("api_key")
            if key is not None and key not in self.keys:
                return self.json({"error": f"no key {key}"}, 404)
            return self.json({"leaked": self.leak(key)})
        return super()._dispatch(request)
