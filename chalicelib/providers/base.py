"""What every provider client offers the sync worker and the connect call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from chalicelib.domain.usage import UsageRecord

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ProviderClient(Protocol):
    provider: str

    def verify(self) -> None:
        """One cheap read; raises ``AuthError`` with the provider's reason if the key is rejected."""

    def fetch(self, workspace_id: str, connection_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        """All records for the whole UTC days in ``[start, end)``, or an error: never half a window."""


def sync_source(connection_id: str) -> str:
    return f"sync:{connection_id}"
