"""Spend per UTC hour and provider, from the hourly provider rollup rows (``rollup.hourly_key``).

The hourly grain holds pushed events and sub-day bills, never a day's bill (a day's bill has no
hour). Per provider and hour the spend is the larger of the bill (``cost`` rows' ``billed``) and
the pushed events' cost (``billed + estimated`` of ``event`` rows): ``usage_compute``'s rule for a
provisional day at the provider grain, so a runaway loop reported from code counts in its hour
and an hour both billed and pushed counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from chalicelib.domain.money import CONTEXT, ZERO
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind


def by_hour_and_provider(rows: Mapping[RollupKey, RollupValues], currency: str) -> dict[tuple[str, str], Decimal]:
    """``(hour YYYY-MM-DDTHH, provider) -> spend`` in ``currency``; slots without spend are left out."""
    bills: dict[tuple[str, str], Decimal] = {}
    events: dict[tuple[str, str], Decimal] = {}
    for key, values in rows.items():
        if key.currency != currency or key.kind is RecordKind.USAGE:
            continue
        slot = (key.day, key.provider)
        if key.kind is RecordKind.COST:
            bills[slot] = CONTEXT.add(bills.get(slot, ZERO), values.billed)
        else:
            events[slot] = CONTEXT.add(events.get(slot, ZERO), CONTEXT.add(values.billed, values.estimated))
    spend = {slot: max(bills.get(slot, ZERO), events.get(slot, ZERO)) for slot in bills.keys() | events.keys()}
    return {slot: amount for slot, amount in spend.items() if amount}
