"""Fake Stripe ``GET /v1/balance_transactions``: a developer's own Stripe account, for its fees.

(Named apart from the Stripe Billing fake, which sells our subscriptions.) Ledger: transactions
per UTC day: charges with a processing ``fee``, refunds, payouts, and separately billed fee rows
(``stripe_fee``, ``stripe_fx_fee``) with a negative ``amount``; amounts in minor units, USD and
EUR. Wire format per providers.md section 4a: ``created[gte|gt|lte|lt]``, newest first,
``starting_after`` cursor with ``has_more``, ``limit`` 1-100 (default 10), Bearer or Basic auth,
errors as ``{"error":{"message","type","code"}}`` with a ``Request-Id`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import FakeProvider, midnight

API_KEY = "rk_test_FAKEstripeRestrictedKey00000000000000000000000000000000wxyz"
FEE_TYPES = ("stripe_fee", "stripe_fx_fee", "tax_fee")
CHARGE_TYPES = ("charge", "payment")
PAGE_DEFAULT, PAGE_MAX = 10, 100
_ZERO_DECIMAL = {"jpy", "krw"}


@dataclass
class Txn:
    id: str
    type: str
    amount: int
    fee: int
    currency: str
    created: int
    description: str | None = None

    def as_json(self) -> dict[str, Any]:
        fee_details = (
            [{"amount": self.fee, "application": None, "currency": self.currency,
              "description": "Stripe processing fees", "type": "stripe_fee"}]
            if self.fee else []
        )
        categories = {"charge": "charge", "payment": "charge", "refund": "refund", "payout": "payout"}
        category = categories.get(self.type, "fee")
        return {
            "id": self.id, "object": "balance_transaction", "amount": self.amount,
            "available_on": self.created + 7 * 86_400, "balance_type": "payments", "created": self.created,
            "currency": self.currency, "description": self.description, "exchange_rate": None,
            "fee": self.fee, "fee_details": fee_details, "net": self.amount - self.fee,
            "reporting_category": category, "source": "ch_" + self.id[4:] if category == "charge" else None,
            "status": "available", "type": self.type,
        }


class FakeStripeBalance(FakeProvider):
    provider = "stripe"
    request_id_header = "Request-Id"

    def __init__(
        self,
        *,
        seed: int = 0,
        now: Callable[[], datetime] | None = None,
        history_days: int = 45,
        api_key: str = API_KEY,
    ) -> None:
        super().__init__(seed=seed, now=now, history_days=history_days)
        self.api_key = api_key
        self.transactions: list[Txn] = []
        for day in self.ledger_days():
            for _ in range(self.rng.randint(0, 8)):
                self._charge(day, "usd" if self.rng.random() < 0.8 else "eur")
            if self.rng.random() < 0.1:
                self._add(day, "refund", -self.rng.randint(500, 5_000), 0, "usd", "REFUND FOR CHARGE")
            if self.rng.random() < 0.15:
                self._add(day, "payout", -self.rng.randint(10_000, 90_000), 0, "usd", "STRIPE PAYOUT")
            if self.rng.random() < 0.2:
                self._add(day, "stripe_fee", -self.rng.randint(50, 2_000), 0, "usd", "Billing - Usage Fee")
            if self.rng.random() < 0.05:
                self._add(day, "stripe_fx_fee", -self.rng.randint(5, 300), 0, "eur", "Currency conversion fee")

    def _add(self, day: date, kind: str, amount: int, fee: int, currency: str, description: str | None) -> Txn:
        now = self.now()
        latest = int(now.timestamp()) if day == now.astimezone(UTC).date() else int(midnight(day).timestamp()) + 86_399
        created = self.rng.randint(int(midnight(day).timestamp()), max(latest, int(midnight(day).timestamp())))
        txn = Txn("txn_" + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                                   for _ in range(24)), kind, amount, fee, currency, created, description)
        self.transactions.append(txn)
        return txn

    def _charge(self, day: date, currency: str) -> Txn:
        amount = self.rng.randint(500, 20_000)
        fee = round(amount * 0.029) + 30  # 2.9% + 30c
        return self._add(day, "charge", amount, fee, currency, "Subscription update")

    # -- the ledger ----------------------------------------------------------------------------

    def billed_fees(self) -> dict[tuple[date, str], Decimal]:
        """Fees by (UTC day, upper-case currency) in major units: what Stripe charged this account."""
        totals: dict[tuple[date, str], Decimal] = {}
        for t in self.transactions:
            if t.type in CHARGE_TYPES:
                minor = t.fee
            elif t.type in FEE_TYPES:
                minor = -t.amount
            else:
                continue
            key = (datetime.fromtimestamp(t.created, UTC).date(), t.currency.upper())
            exponent = 0 if t.currency in _ZERO_DECIMAL else 2
            totals[key] = totals.get(key, Decimal(0)) + Decimal(minor).scaleb(-exponent)
        return totals

    def billed_total(self, currency: str = "USD") -> Decimal:
        return sum((v for (_, c), v in self.billed_fees().items() if c == currency), Decimal(0))

    # -- changing the world --------------------------------------------------------------------

    def grow_today(self, charges: int = 3, *, currency: str = "usd") -> None:
        for _ in range(charges):
            self._charge(self.today(), currency)

    def restate(self, day: date, new_amount: Decimal, *, currency: str = "usd") -> None:
        """A separately billed fee lands later on a past ``day``, so its fees total ``new_amount``."""
        current = self.billed_fees().get((day, currency.upper()), Decimal(0))
        delta_minor = int((Decimal(new_amount) - current).scaleb(2))
        self._add(day, "stripe_fee", -delta_minor, 0, currency, "Radar - Fraud Teams fee")

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.api_key}":
            return True
        auth = request.authorization
        return auth is not None and auth.type == "basic" and auth.username == self.api_key

    def error(self, status: int, message: str | None) -> Response:
        masked = f"{self.api_key[:8]}{'*' * 20}{self.api_key[-4:]}"
        kinds = {
            401: ("invalid_request_error", None, f"Invalid API Key provided: {masked}"),
            403: ("invalid_request_error", None,
                  (f"The provided key '{masked}' does not have the required permissions for this endpoint. "
                   "Having the 'rak_balance_transaction_source_read' permission would allow this request "
                   "to continue.")),
            429: ("invalid_request_error", "rate_limit",
                  "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."),
        }
        kind, code, default = kinds.get(
            status,
            ("api_error", None, "An unknown error occurred") if status >= 500
            else ("invalid_request_error", None, "Bad request"),
        )
        body: dict[str, Any] = {"message": message or default, "type": kind}
        if code:
            body["code"] = code
        return self.json({"error": body}, status)

    def malformed_body(self) -> Any:
        return {"object": "list", "url": "/v1/balance_transactions", "has_more": False}  # no "data"

    def route(self, request: Request) -> Response:
        if request.path != "/v1/balance_transactions":
            raise self.bad_request(f"Unrecognized request URL (GET: {request.path}).", 404)
        bounds = {}
        for op in ("gt", "gte", "lt", "lte"):
            if (value := request.args.get(f"created[{op}]")) is not None:
                try:
                    bounds[op] = int(value)
                except ValueError:
                    raise self.bad_request(f"Invalid integer: {value}") from None
        try:
            limit = int(request.args.get("limit", PAGE_DEFAULT))
        except ValueError:
            raise self.bad_request("Invalid integer: limit") from None
        if not 1 <= limit <= PAGE_MAX:
            raise self.bad_request("This value must be less than or equal to 100.")
        rows = sorted(
            (t for t in self.transactions if _in_bounds(t.created, bounds)),
            key=lambda t: (t.created, t.id),
            reverse=True,  # newest first
        )
        if after := request.args.get("starting_after"):
            ids = [t.id for t in rows]
            if after not in ids:
                raise self.bad_request(f"No such balance_transaction: '{after}'", 404)
            rows = rows[ids.index(after) + 1:]
        return self.json({
            "object": "list", "url": "/v1/balance_transactions", "has_more": len(rows) > limit,
            "data": [t.as_json() for t in rows[:limit]],
        })


def _in_bounds(created: int, bounds: dict[str, int]) -> bool:
    return (
        ("gt" not in bounds or created > bounds["gt"])
        and ("gte" not in bounds or created >= bounds["gte"])
        and ("lt" not in bounds or created < bounds["lt"])
        and ("lte" not in bounds or created <= bounds["lte"])
    )
