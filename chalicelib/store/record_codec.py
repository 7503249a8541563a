"""Compact, exact serialisation of usage records for chunk items (zlib over short-keyed JSON).

Money and units travel as decimal strings, so nothing passes through float.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from decimal import Decimal

from chalicelib.domain.usage import RecordKind, UsageRecord

_OPTIONAL = (
    ("m", "model"), ("l", "line_item"), ("t", "unit_type"), ("p", "project"), ("a", "api_key"),
    ("f", "feature"), ("c", "customer"), ("i", "idempotency_id"),
)


def _row(r: UsageRecord) -> dict:
    row: dict = {
        "k": r.kind.value, "s": r.source, "v": r.provider, "cur": r.currency,
        "b0": int(r.bucket_start.timestamp()), "b1": int(r.bucket_end.timestamp()),
    }
    if r.units:
        row["u"] = format(r.units, "f")
    if r.billed_cost is not None:
        row["bc"] = format(r.billed_cost, "f")
    if r.estimated_cost is not None:
        row["ec"] = format(r.estimated_cost, "f")
    for short, name in _OPTIONAL:
        value = getattr(r, name)
        if value:
            row[short] = value
    if r.metadata:
        row["md"] = r.metadata
    return row


def encode(records: list[UsageRecord]) -> bytes:
    text = json.dumps([_row(r) for r in records], separators=(",", ":"), sort_keys=True)
    return zlib.compress(text.encode(), 9)


def decode(workspace_id: str, blob: bytes) -> list[UsageRecord]:
    rows = json.loads(zlib.decompress(blob))
    return [
        UsageRecord(
            workspace_id=workspace_id,
            kind=RecordKind(row["k"]),
            source=row["s"],
            provider=row["v"],
            currency=row["cur"],
            bucket_start=datetime.fromtimestamp(row["b0"], UTC),
            bucket_end=datetime.fromtimestamp(row["b1"], UTC),
            units=Decimal(row.get("u", "0")),
            billed_cost=Decimal(row["bc"]) if "bc" in row else None,
            estimated_cost=Decimal(row["ec"]) if "ec" in row else None,
            metadata=row.get("md", {}),
            **{name: row.get(short) for short, name in _OPTIONAL},
        )
        for row in rows
    ]
