"""Bill against pushed events, per provider-day: which one is the spend while the provider has
not finished billing the day, and the likely causes when events exceed a final bill.

Provisional provider-days (``finality``): spend is the larger of the bill so far and the pushed
events' cost (reported, or the catalogue estimate), compared per model where both the bill and
the events name the model, and over the rest of the provider's rows otherwise. A provider
reports dated model names (``gpt-4o-mini-2024-07-18``, ``claude-3-5-haiku-20241022``) where code
often sends the alias, so models are matched on ``canonical_model``. For each such *side* the
larger one is the spend: when the bill is larger the events attribute it (as on a final day),
when the events are larger they are the spend and the bill rows add none. Spend is therefore
never below the bill so far nor below the events, and it never drops when a partial bill lands.

The decision is made on all rows of the range before any filter, so filters and groupings
never change which side is the spend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from chalicelib.domain import finality
from chalicelib.domain.money import CONTEXT, ZERO, to_str
from chalicelib.domain.rollup import RollupKey, RollupValues
from chalicelib.domain.usage import RecordKind

REST = "\x00rest"  # the side of a provider's rows whose model is not on both sides
_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def canonical_model(model: str | None) -> str | None:
    """The model without a snapshot date or ``-latest``, lower-case: ``gpt-4o-mini-2024-07-18``
    and ``gpt-4o-mini`` are one model."""
    if not model:
        return None
    return _DATED.sub("", model.strip().lower())


ProviderDay = tuple[date, str, str]  # day, provider, currency


@dataclass(frozen=True)
class Sides:
    """Per provisional provider-day and side, whether the bill (True) or the events are spend."""

    provisional: frozenset[tuple[date, str]] = frozenset()
    matched: dict[ProviderDay, frozenset[str]] = field(default_factory=dict)
    bill_wins: dict[tuple[date, str, str, str], bool] = field(default_factory=dict)

    def is_provisional(self, day: date, provider: str) -> bool:
        return (day, provider) in self.provisional

    def side(self, day: date, key: RollupKey) -> str:
        model = canonical_model(key.model)
        matched = self.matched.get((day, key.provider, key.currency), frozenset())
        return model if model in matched else REST

    def bill_is_spend(self, day: date, key: RollupKey) -> bool:
        """On a provisional day: True if the bill so far is the spend for this row's side."""
        return self.bill_wins.get((day, key.provider, key.currency, self.side(day, key)), True)


def decide(rows: Iterable[tuple[date, RollupKey, RollupValues]], now: datetime | None) -> Sides:
    """Sides for the provisional provider-days among ``rows`` (``now=None``: every day is final)."""
    if now is None:
        return Sides()
    provisional: set[tuple[date, str]] = set()
    billed_models: dict[ProviderDay, set[str]] = {}
    event_models: dict[ProviderDay, set[str]] = {}
    kept = []
    for day, key, values in rows:
        if key.kind is RecordKind.USAGE:
            continue
        if (day, key.provider) not in provisional and finality.is_final(key.provider, day, now):
            continue
        provisional.add((day, key.provider))
        kept.append((day, key, values))
        model = canonical_model(key.model)
        if model is not None:
            target = billed_models if key.kind is RecordKind.COST else event_models
            target.setdefault((day, key.provider, key.currency), set()).add(model)
    matched = {pd: frozenset(models & event_models.get(pd, set())) for pd, models in billed_models.items()}
    sides = Sides(frozenset(provisional), matched)
    billed: dict[tuple[date, str, str, str], Decimal] = {}
    events: dict[tuple[date, str, str, str], Decimal] = {}
    for day, key, values in kept:
        side = (day, key.provider, key.currency, sides.side(day, key))
        if key.kind is RecordKind.COST:
            billed[side] = CONTEXT.add(billed.get(side, ZERO), values.billed)
        else:
            events[side] = CONTEXT.add(events.get(side, ZERO), CONTEXT.add(values.billed, values.estimated))
    for side in billed.keys() | events.keys():
        sides.bill_wins[side] = billed.get(side, ZERO) >= events.get(side, ZERO)
    return sides


# --- over-attribution on final days -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cause:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def likely_causes(
    provider: str,
    billed: Decimal,
    attributed: Decimal,
    estimated_part: Decimal,
    event_units: Decimal,
    provider_units: Decimal | None,
) -> tuple[Cause, ...]:
    """Why pushed events add up to more than a final bill, most likely first.

    ``estimated_part``: how much of ``attributed`` is catalogue estimates (events sent without a
    cost); ``event_units`` and ``provider_units``: units the events report and the provider's own
    synced usage counts (``None`` when no usage was synced).
    """
    excess = CONTEXT.subtract(attributed, billed)
    found: list[tuple[int, Cause]] = []
    if estimated_part > 0:
        found.append((0 if estimated_part >= excess else 2, Cause(
            "catalogue_prices_above_bill",
            f"{to_str(estimated_part)} of the events' {to_str(attributed)} is the price catalogue's estimate "
            f"(events sent without a cost); catalogue prices above what {provider} billed (discounts, "
            "batch or cached-input rates) would explain the difference. Send the cost with each event.")))
    if provider_units is not None and event_units > provider_units:
        found.append((1, Cause(
            "events_pushed_twice",
            f"events report {to_str(event_units)} units where {provider} counted {to_str(provider_units)}: "
            "the same calls pushed twice under different ids? Use one stable id per call.")))
    found.append((3, Cause(
        "key_outside_tagged_code",
        f"events for calls whose cost is not in this {provider} bill: a key of another organisation, "
        "project or environment used by the tagged code, or events pushed for calls it did not make.")))
    return tuple(c for _, c in sorted(found, key=lambda pc: pc[0]))
