"""Strict readers for provider payloads: a field with the wrong shape raises ``MalformedResponse``.

Unknown keys are ignored; optional fields may be missing or null. A bad payload fails the whole
fetch so no half-window is ever written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import MoneyError, add, normalize_currency, parse_decimal
from chalicelib.domain.usage import RecordKind, UsageRecord
from chalicelib.providers._window import DAY, midnight
from chalicelib.providers.errors import MalformedResponse

_MISSING = object()


class Reader:
    """Field access on one provider's JSON, raising ``MalformedResponse`` with a path."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def fail(self, message: str) -> MalformedResponse:
        return MalformedResponse(self.provider, f"unexpected payload: {message}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{where} is not an object")
        return value

    def list(self, container: dict[str, Any], key: str, where: str = "") -> list[Any]:
        value = container.get(key, _MISSING)
        if not isinstance(value, list):
            raise self.fail(f"{where}{key} is missing or not a list")
        return value

    def int(self, container: dict[str, Any], key: str, where: str = "", *, optional: bool = False) -> int | None:
        value = container.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            # Some providers send counts as numeric strings (Twilio); accept exact integers only.
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise self.fail(f"{where}{key} is not an integer: {value!r}")
        return value

    def str(self, container: dict[str, Any], key: str, where: str = "", *, optional: bool = False) -> str | None:
        value = container.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where}{key} is not a string: {value!r}")
        return value

    def bool(self, container: dict[str, Any], key: str, where: str = "", *, optional: bool = False) -> bool | None:
        value = container.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key} is not a boolean: {value!r}")
        return value

    def amount(self, value: Any, where: str) -> Decimal:
        try:
            return parse_decimal(value)
        except MoneyError as e:
            raise self.fail(f"{where} is not an amount: {value!r}") from e

    def currency(self, value: Any, where: str) -> str:
        try:
            return normalize_currency(value)
        except MoneyError as e:
            raise self.fail(f"{where} is not a currency: {value!r}") from e

    def timestamp(self, value: Any, where: str) -> datetime:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where} is not a unix timestamp: {value!r}")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as e:  # beyond the calendar
            raise self.fail(f"{where} is out of range: {value!r}") from e

    def rfc3339(self, value: Any, where: str) -> datetime:
        try:
            moment = datetime.fromisoformat(value)
        except (AttributeError, ValueError) as e:
            raise self.fail(f"{where} is not an RFC 3339 time: {value!r}") from e
        if moment.tzinfo is None:
            raise self.fail(f"{where} has no timezone: {value!r}")
        try:
            return moment.astimezone(UTC)
        except OverflowError as e:  # 9999-12-31T23:59:59-01:00
            raise self.fail(f"{where} is out of range: {value!r}") from e

    def day(self, value: Any, where: str) -> date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError) as e:
            raise self.fail(f"{where} is not a YYYY-MM-DD date: {value!r}") from e

    def bucket(self, start: datetime, end: datetime, where: str) -> tuple[datetime, datetime]:
        if end <= start:
            raise self.fail(f"{where} ends before it starts")
        return start, end


def merge_duplicates(records: Iterable[UsageRecord]) -> list[UsageRecord]:
    """One record per ``record_key``: rows of the same grain (same bucket and dimensions) are summed.

    Providers may return several rows that our dimensions cannot tell apart (e.g. two Anthropic cost
    rows differing only in a field we do not key on). Summing them within one fetch is exact and
    deterministic, and the whole bucket is recomputed on every sync, so a re-sync still replaces.
    """
    merged: dict[str, UsageRecord] = {}
    for record in records:
        key = record.record_key()
        previous = merged.get(key)
        if previous is None:
            merged[key] = record
            continue
        merged[key] = replace(
            previous,
            units=add(previous.units, record.units),
            billed_cost=_add_optional(previous.billed_cost, record.billed_cost),
            estimated_cost=_add_optional(previous.estimated_cost, record.estimated_cost),
        )
    return list(merged.values())


def _add_optional(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None and b is None:
        return None
    return add(a or Decimal(0), b or Decimal(0))


def day_cost(provider: str, workspace_id: str, source: str, day: date, **fields: Any) -> UsageRecord:
    """A provider's billed cost for one whole UTC day (the cost-report providers' one record shape)."""
    return UsageRecord(workspace_id=workspace_id, kind=RecordKind.COST, source=source, provider=provider,
                       bucket_start=midnight(day), bucket_end=midnight(day) + DAY, **fields)
