"""The normalised usage record: one fact about spend or usage, from a provider sync or a push.

Invariant 1 (DESIGN.md): a record's key comes from its source, so writing the same record twice
changes nothing. A synced provider bucket is keyed by (connection, bucket start, kind, grouping
dimensions); a pushed event by the client's idempotency id. Invariant 2: a re-sync replaces a
record's value, it never adds to it.

Two kinds of synced facts exist side by side and must never be summed together as spend:
- ``cost``: the provider's billed cost for a bucket (OpenAI costs, Anthropic cost report, Twilio
  price, Stripe fee, AWS UnblendedCost). This is the spend truth.
- ``usage``: units (tokens, requests...) for a bucket, with an ``estimated_cost`` from the price
  catalogue, for analytics and for comparing estimate to bill.
Pushed events from the team's own code are kind ``event``: they carry units and a cost (given or
estimated) and attribute spend to project, feature and customer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum


class RecordKind(StrEnum):
    COST = "cost"
    USAGE = "usage"
    EVENT = "event"


# Dimensions a usage query may group or filter by; also the grain of the daily rollups.
DIMENSIONS = ("provider", "model", "project", "feature", "customer", "api_key", "unit_type")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One fact. Money is ``Decimal`` in the major unit of ``currency``; times are UTC.

    ``model`` holds the model or service (``gpt-4o-mini``, ``AWS Lambda``, ``sms``);
    ``project`` the provider's project/workspace id or the pushed project tag;
    ``units`` the quantity in ``unit_type`` (``input_tokens``, ``output_tokens``,
    ``cached_input_tokens``, ``cache_write_tokens``, ``requests``, ``messages``, ``usd``...).
    """

    workspace_id: str
    kind: RecordKind
    source: str  # "sync:<connection_id>" or "push:<ingest key prefix>"
    provider: str
    bucket_start: datetime
    bucket_end: datetime
    currency: str = "USD"
    model: str | None = None
    line_item: str | None = None
    unit_type: str | None = None
    units: Decimal = Decimal(0)
    billed_cost: Decimal | None = None
    estimated_cost: Decimal | None = None
    project: str | None = None
    api_key: str | None = None
    feature: str | None = None
    customer: str | None = None
    idempotency_id: str | None = None  # pushed events only
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RecordKind(self.kind))
        if self.bucket_start.tzinfo is None or self.bucket_end.tzinfo is None:
            raise ValueError("bucket times must be timezone-aware (UTC)")
        if self.bucket_end <= self.bucket_start:
            raise ValueError("bucket_end must be after bucket_start")

    @property
    def day(self) -> str:
        """The UTC day (``YYYY-MM-DD``) the record's bucket starts in: the rollup's day."""
        return self.bucket_start.astimezone(UTC).strftime("%Y-%m-%d")

    @property
    def cost(self) -> Decimal:
        """The record's spend figure: the billed cost where known, else the estimate."""
        if self.billed_cost is not None:
            return self.billed_cost
        return self.estimated_cost if self.estimated_cost is not None else Decimal(0)

    def dimension(self, name: str) -> str | None:
        return getattr(self, name)

    def record_key(self) -> str:
        """Deterministic key from the record's source (invariant 1)."""
        if self.kind is RecordKind.EVENT:
            if not self.idempotency_id:
                raise ValueError("a pushed event needs an idempotency id")
            return "evt#" + _digest(self.idempotency_id)
        parts = (
            self.source,
            self.kind.value,
            self.bucket_start.astimezone(UTC).isoformat(),
            self.bucket_end.astimezone(UTC).isoformat(),
            self.provider,
            self.model or "",
            self.line_item or "",
            self.unit_type or "",
            self.project or "",
            self.api_key or "",
            self.currency,
        )
        return f"{self.kind.value}#" + _digest("\x1f".join(parts))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
