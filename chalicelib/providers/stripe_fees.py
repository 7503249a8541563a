"""A developer's own Stripe processing fees, from balance transactions, as daily ``COST`` records.

Fees are the ``fee`` of charge-type rows plus the rows that are themselves fees (``stripe_fee``,
``stripe_fx_fee``, ``tax_fee``: Billing, Radar... billed separately, with a negative ``amount``).
Stripe lists single transactions, not buckets, so each UTC day and currency is aggregated here
from *all* of that day's transactions: the window is whole days, so a re-sync recomputes a day
whole and replaces it, never adds to it. Amounts are integers in minor units.
See /work/shared/providers.md section 4a.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import MoneyError, add, from_minor_units
from chalicelib.domain.usage import UsageRecord
from chalicelib.providers._parse import day_cost
from chalicelib.providers._window import day_window, to_unix
from chalicelib.providers.base import HttpProvider, sync_source

BASE_URL = "https://api.stripe.com"
PATH = "/v1/balance_transactions"
PAGE_MAX = 100
CHARGE_TYPES = frozenset({"charge", "payment"})
FEE_TYPES = frozenset({"stripe_fee", "stripe_fx_fee", "tax_fee"})
LINE_ITEM = "stripe_fees"


class StripeFeesClient(HttpProvider):
    provider = "stripe"
    base_url = BASE_URL

    def __init__(self, api_key: str, **options: Any) -> None:
        if not api_key:
            raise ValueError("a Stripe (restricted) API key is required")
        super().__init__(headers={"Authorization": f"Bearer {api_key}"}, secrets=(api_key,), **options)

    def __repr__(self) -> str:
        return "StripeFeesClient(api_key=***)"

    def verify(self) -> None:
        self._http.get_json(PATH, {"limit": 1})

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        fees: dict[tuple[date, str], list[Decimal]] = defaultdict(list)
        for txn in self._transactions(*window):
            fee = self._fee(txn)
            if fee is not None:
                day = self._read.timestamp(txn.get("created"), "created").date()
                fees[(day, fee[1])].append(fee[0])
        source = sync_source(connection_id)
        return [
            day_cost(
                self.provider, workspace_id, source, day,
                currency=currency,
                line_item=LINE_ITEM,
                unit_type="transactions",
                units=Decimal(len(amounts)),
                billed_cost=add(*amounts),
            )
            for (day, currency), amounts in sorted(fees.items())
        ]

    def _fee(self, txn: dict[str, Any]) -> tuple[Decimal, str] | None:
        """(fee in major units, currency) of one transaction, or ``None`` if it carries no fee."""
        r = self._read
        kind = r.str(txn, "type", "balance transaction ")
        if kind in CHARGE_TYPES:
            minor = r.int(txn, "fee", "balance transaction ")
        elif kind in FEE_TYPES:
            minor = -r.int(txn, "amount", "balance transaction ")  # fee rows debit the balance
        else:
            return None
        currency = r.currency(txn.get("currency"), "currency")
        try:
            return from_minor_units(minor, currency), currency
        except MoneyError as e:
            raise r.fail(str(e)) from e

    def _transactions(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        r = self._read
        params: dict[str, Any] = {
            "created[gte]": to_unix(start),
            "created[lt]": to_unix(end),
            "limit": self.page_limit(PAGE_MAX),
        }
        seen: set[str] = set()
        while True:
            body = self._http.get_json(PATH, params)
            data = r.list(body, "data")
            for txn in data:
                txn = r.obj(txn, "balance transaction")
                txn_id = r.str(txn, "id", "balance transaction ")
                if txn_id in seen:
                    raise r.fail(f"transaction {txn_id} listed twice")
                seen.add(txn_id)
                yield txn
            if not r.bool(body, "has_more") or not data:
                return
            params = {**params, "starting_after": data[-1]["id"]}
