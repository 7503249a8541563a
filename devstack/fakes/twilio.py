"""Fake Twilio Usage Records API (``Usage/Records/Daily.json`` and ``Today.json``).

Ledger: per GMT day, a price per usage category; ``totalprice`` is their sum. Wire format per
providers.md section 3: Basic auth with the Account SID + auth token or an API key SID + secret,
``StartDate``/``EndDate`` inclusive, ``PageSize`` <= 1000, pages followed through a relative
``next_page_uri`` carrying ``Page`` and ``PageToken``, ``price`` as a decimal string, legacy error
bodies ``{"code","message","more_info","status"}``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from devstack.fakes.base import FakeProvider

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "fake0twilio0auth0token00000a1b2"
API_KEY_SID = "SK0123456789abcdef0123456789abcdef"
API_KEY_SECRET = "fakeTwilioApiKeySecret000000c3d4"
CATEGORIES = {
    "sms-outbound": ("Outbound SMS", "messages"),
    "calls-outbound": ("Outbound Calls", "minutes"),
    "phonenumbers": ("Phone Numbers", "phonenumbers"),
}
TOTAL = "totalprice"
PRICE_PLACES = Decimal("0.00001")
PAGE_DEFAULT, PAGE_MAX = 50, 1000
_ERRORS = {
    400: (20001, "Invalid parameter"),
    401: (20003, "Authenticate"),
    403: (20003, "Permission denied"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


class FakeTwilio(FakeProvider):
    provider = "twilio"
    request_id_header = "Twilio-Request-Id"

    def __init__(
        self,
        *,
        seed: int = 0,
        now: Callable[[], datetime] | None = None,
        history_days: int = 45,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        api_key_sid: str = API_KEY_SID,
        api_key_secret: str = API_KEY_SECRET,
    ) -> None:
        super().__init__(seed=seed, now=now, history_days=history_days)
        self.account_sid = account_sid
        self._logins = {(account_sid, auth_token), (api_key_sid, api_key_secret)}
        self.prices: dict[tuple[date, str], Decimal] = {}
        self.counts: dict[tuple[date, str], int] = {}
        for day in self.ledger_days():
            quiet = self.rng.random() < 0.15
            for category in CATEGORIES:
                count = 0 if quiet else self.rng.randint(0, 2_000)
                self.counts[(day, category)] = count
                unit = Decimal(self.rng.randint(400, 1_400)) / 100_000  # $0.004-$0.014 each
                self.prices[(day, category)] = (count * unit).quantize(PRICE_PLACES)

    def new_request_id(self) -> str:
        return f"RQ{self.seed:08x}{self._request_counter:024x}"

    # -- the ledger ----------------------------------------------------------------------------

    def price(self, day: date, category: str = TOTAL) -> Decimal:
        if category == TOTAL:
            return sum((self.prices.get((day, c), Decimal(0)) for c in CATEGORIES), Decimal(0))
        return self.prices.get((day, category), Decimal(0))

    def billed_total(self, start: date | None = None, end: date | None = None) -> Decimal:
        """Total billed in USD over days ``[start, end)``."""
        return sum(
            (self.price(d) for d in self.ledger_days() if (start is None or d >= start) and (end is None or d < end)),
            Decimal(0),
        )

    def grow_today(self, amount: Decimal = Decimal("1.25"), *, category: str = "sms-outbound") -> None:
        key = (self.today(), category)
        self.prices[key] = self.prices.get(key, Decimal(0)) + Decimal(amount)
        self.counts[key] = self.counts.get(key, 0) + 100

    def restate(self, day: date, new_amount: Decimal, *, category: str = "sms-outbound") -> None:
        """Set ``day``'s total price to ``new_amount`` by correcting one category."""
        others = self.price(day) - self.price(day, category)
        self.prices[(day, category)] = Decimal(new_amount) - others

    # -- HTTP ----------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> bool:
        auth = request.authorization
        return auth is not None and auth.type == "basic" and (auth.username, auth.password) in self._logins

    def error(self, status: int, message: str | None) -> Response:
        code, default = _ERRORS.get(status, (20500 if status >= 500 else 20001, "Error"))
        return self.json(
            {"code": code, "message": message or default, "more_info": f"https://www.twilio.com/docs/errors/{code}",
             "status": status},
            status,
        )

    def malformed_body(self) -> Any:
        return {"page": 0, "page_size": 50, "next_page_uri": None}  # no "usage_records"

    def route(self, request: Request) -> Response:
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Usage/Records/"
        if not request.path.startswith(prefix):
            raise self.bad_request(f"The requested resource {request.path} was not found", 404)
        period = request.path.removeprefix(prefix)
        if period == "Daily.json":
            first = _date_arg(self, request, "StartDate") or self.ledger_days()[0]
            last = _date_arg(self, request, "EndDate") or self.today()
        elif period == "Today.json":
            first = last = self.today()
        else:
            raise self.bad_request(f"The requested resource {request.path} was not found", 404)
        category = request.args.get("Category")
        categories = [category] if category else [TOTAL, *CATEGORIES]
        if any(c != TOTAL and c not in CATEGORIES for c in categories):
            raise self.bad_request(f"Invalid Category: {category}")
        rows = [(d, c) for d in self.ledger_days() if first <= d <= last for c in categories]
        try:
            page_size = int(request.args.get("PageSize", PAGE_DEFAULT))
            page = int(request.args.get("Page", 0))
        except ValueError:
            raise self.bad_request("Invalid PageSize or Page") from None
        if not 1 <= page_size <= PAGE_MAX:
            raise self.bad_request(f"PageSize must be between 1 and {PAGE_MAX}")
        if page and request.args.get("PageToken") != _token(page, page_size):
            raise self.bad_request("Invalid PageToken")  # pages are followed, never constructed
        chosen = rows[page * page_size:(page + 1) * page_size]
        base = {k: v for k, v in request.args.items() if k not in ("Page", "PageToken")}
        base.setdefault("PageSize", str(page_size))

        def uri(n: int | None) -> str | None:
            if n is None:
                return None
            query = {**base, "Page": str(n), **({"PageToken": _token(n, page_size)} if n else {})}
            return f"{request.path}?{urlencode(query)}"

        more = (page + 1) * page_size < len(rows)
        return self.json({
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page else None,
            "uri": uri(page),
            "page": page,
            "page_size": page_size,
            "start": page * page_size,
            "end": page * page_size + len(chosen),
            "usage_records": [self._row(request.path, d, c) for d, c in chosen],
        })

    def _row(self, path: str, day: date, category: str) -> dict[str, Any]:
        price = self.price(day, category)
        description, unit = CATEGORIES.get(category, ("Total Price", "usd"))
        count = 0 if category == TOTAL else self.counts.get((day, category), 0)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "as_of": self.now().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "category": category,
            "count": str(count),
            "count_unit": "" if category == TOTAL else unit,
            "description": description,
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "price": format(price.quantize(PRICE_PLACES), "f"),
            "price_unit": "usd",
            "usage": format(price.normalize(), "f") if category == TOTAL else str(count),
            "usage_unit": "usd" if category == TOTAL else unit,
            "subresource_uris": {},
            "uri": f"{path}?Category={category}&StartDate={day}&EndDate={day}",
        }


def _token(page: int, page_size: int) -> str:
    return "PA" + base64.urlsafe_b64encode(f"{page}:{page_size}".encode()).decode().rstrip("=")


def _date_arg(fake: FakeProvider, request: Request, name: str) -> date | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fake.bad_request(f"{name} must be YYYY-MM-DD") from None
