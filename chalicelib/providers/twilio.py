"""Twilio Usage Records (daily ``totalprice``), as ``COST`` records.

Basic auth with either the Account SID + auth token or an API key SID + secret (the Account SID
stays in the path). ``StartDate``/``EndDate`` are GMT dates, both inclusive; pages are followed
through ``next_page_uri``. ``price`` is a decimal string in major units.
See /work/shared/providers.md section 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from chalicelib.domain.usage import UsageRecord
from chalicelib.providers._parse import day_cost, merge_duplicates
from chalicelib.providers._window import DAY, day_window
from chalicelib.providers.base import HttpProvider, sync_source

BASE_URL = "https://api.twilio.com"
API_PREFIX = "/2010-04-01"
CATEGORY = "totalprice"
PAGE_MAX = 1000
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


class TwilioClient(HttpProvider):
    provider = "twilio"
    base_url = BASE_URL

    def __init__(self, account_sid: str, auth_token: str | None = None, *,
                 api_key_sid: str | None = None, api_key_secret: str | None = None, **options: Any) -> None:
        if not _ACCOUNT_SID.match(account_sid or ""):
            raise ValueError("a Twilio Account SID looks like AC followed by 32 hex digits")
        if api_key_sid and api_key_secret:
            username, password = api_key_sid, api_key_secret
        elif auth_token:
            username, password = account_sid, auth_token
        else:
            raise ValueError("Twilio needs an auth token, or an API key SID and secret")
        self.account_sid = account_sid
        super().__init__(auth=httpx.BasicAuth(username, password), secrets=(password,), **options)

    def __repr__(self) -> str:
        return f"TwilioClient(account_sid={self.account_sid!r}, secret=***)"

    def _records_path(self, period: str) -> str:
        return f"{API_PREFIX}/Accounts/{self.account_sid}/Usage/Records/{period}.json"

    def verify(self) -> None:
        """Today's total price: readable with a restricted key limited to Usage Records."""
        self._http.get_json(self._records_path("Today"), {"Category": CATEGORY, "PageSize": 1})

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        window = day_window(start, end, self._now())
        if window is None:
            return []
        first, last = window[0].date(), (window[1] - DAY).date()  # EndDate is inclusive
        source = sync_source(connection_id)
        records = [
            record
            for row in self._rows(first, last)
            if (record := self._record(workspace_id, source, row)) is not None
        ]
        return merge_duplicates(records)

    def _rows(self, first: date, last: date) -> Iterator[dict[str, Any]]:
        r = self._read
        url: str | None = self._records_path("Daily")
        params: dict[str, Any] | None = {
            "Category": CATEGORY,
            "StartDate": first.isoformat(),
            "EndDate": last.isoformat(),
            "PageSize": self.page_limit(PAGE_MAX),
        }
        seen: set[str] = set()
        while url:
            body = self._http.get_json(url, params)
            for row in r.list(body, "usage_records"):
                yield r.obj(row, "usage record")
            next_uri = body.get("next_page_uri")
            if next_uri is None:
                return
            if not isinstance(next_uri, str) or not next_uri.startswith("/") or next_uri in seen:
                raise r.fail("next_page_uri is invalid or repeats")
            seen.add(next_uri)
            url, params = next_uri, None  # the URI carries every parameter, paging token included

    def _record(self, workspace_id: str, source: str, row: dict[str, Any]) -> UsageRecord | None:
        r, where = self._read, "usage record "
        price = row.get("price")
        amount = Decimal(0) if price is None else r.amount(price, "price")
        if amount == 0:
            return None  # a day with nothing billed is an empty bucket
        day = r.day(row.get("start_date"), "start_date")
        end_day = r.day(row.get("end_date") or row.get("start_date"), "end_date")
        if end_day != day:
            raise r.fail("a daily record spans more than one day")
        category = r.str(row, "category", where, optional=True) or CATEGORY
        usage = row.get("usage")
        metadata = {
            key: value for key in ("description", "as_of", "usage_unit") if isinstance(value := row.get(key), str)
        }
        if isinstance(usage, str):
            metadata["usage"] = usage
        return day_cost(
            self.provider, workspace_id, source, day,
            currency=r.currency(row.get("price_unit"), "price_unit"),
            line_item=category,
            unit_type=None,
            billed_cost=amount,
            project=r.str(row, "account_sid", where, optional=True),
            metadata=metadata,
        )
