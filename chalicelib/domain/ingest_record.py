"""One accepted event becomes one ``UsageRecord(kind=EVENT)``: token counts summed into ``units``
(their breakdown in ``cp.*`` metadata), the given cost as ``billed_cost`` or the catalogue's
estimate as ``estimated_cost`` (see ``ingest`` for the rules)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from chalicelib.domain.ingest_schema import (
    ESTIMATE_CURRENCY,
    MAX_DECIMAL_PLACES,
    RESERVED_METADATA_PREFIX,
    TOKEN_FIELDS,
    UsageEventIn,
)
from chalicelib.domain.usage import RecordKind, UsageRecord

TOKENS_UNIT = "tokens"
EVENT_DURATION = timedelta(seconds=1)  # an event is an instant; its bucket is [t, t + 1 s)


class EstimateCost(Protocol):
    """``pricing.estimate_cost``: USD estimate of token usage, ``None`` when no price is known."""

    def __call__(
        self,
        provider: str,
        model: str | None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        at: datetime | None = None,
    ) -> Decimal | None: ...


def _quantize(amount: Decimal) -> Decimal:
    quantum = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
    if isinstance(amount.as_tuple().exponent, int) and amount.as_tuple().exponent >= -MAX_DECIMAL_PLACES:
        return amount
    return amount.quantize(quantum, rounding=ROUND_HALF_EVEN).normalize()


def to_record(
    event: UsageEventIn,
    workspace_id: str,
    source: str,
    estimate_cost: EstimateCost | None,
) -> tuple[UsageRecord, tuple[str, ...]]:
    warnings: list[str] = []
    metadata = dict(event.metadata)
    provider = event.provider.lower()
    estimated: Decimal | None = None
    if event.unit_type is not None:
        unit_type, units = event.unit_type.lower(), event.units or Decimal(0)
    else:
        counts = {f: getattr(event, f) or 0 for f in TOKEN_FIELDS}
        unit_type, units = TOKENS_UNIT, Decimal(sum(counts.values()))
        metadata.update({RESERVED_METADATA_PREFIX + f: str(n) for f, n in counts.items() if n})
        if event.cost is None and event.model is not None and estimate_cost is not None:
            estimated = estimate_cost(provider, event.model, at=event.timestamp, **counts)
            if estimated is not None:
                if not isinstance(estimated, Decimal) or not estimated.is_finite() or estimated < 0:
                    raise TypeError(f"estimate_cost returned {estimated!r}; expected a non-negative Decimal")
                estimated = _quantize(estimated)
    if event.cost is None and estimated is None:
        warnings.append(
            "cost: not given and no catalogue price for this provider/model/unit; "
            "counted with no cost (send cost to include it in spend)"
        )
    record = UsageRecord(
        workspace_id=workspace_id,
        kind=RecordKind.EVENT,
        source=source,
        provider=provider,
        bucket_start=event.timestamp,
        bucket_end=event.timestamp + EVENT_DURATION,
        currency=event.currency or ESTIMATE_CURRENCY,
        model=event.model,
        unit_type=unit_type,
        units=units,
        billed_cost=event.cost,
        estimated_cost=estimated,
        project=event.project,
        feature=event.feature,
        customer=event.customer,
        idempotency_id=event.id,
        metadata=metadata,
    )
    return record, tuple(warnings)


