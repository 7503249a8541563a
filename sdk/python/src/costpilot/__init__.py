"""CostPilot for Python: push usage from your code, instrument OpenAI/Anthropic clients, read spend.

    import costpilot
    costpilot.configure(ingest_key="cpk_live_...", base_url="https://api.example.com")
    with costpilot.tags(feature="search", customer="acme"):
        costpilot.record("openai", "gpt-4o-mini", input_tokens=1200, output_tokens=300)
"""

from __future__ import annotations

from typing import Any

from costpilot._version import __version__
from costpilot.api import Api, ApiError
from costpilot.budget import BudgetStatus, BudgetStatusError
from costpilot.client import Client, configure, default_client
from costpilot.integrations import instrument_anthropic, instrument_openai
from costpilot.tags import tags

__all__ = ["Api", "ApiError", "BudgetStatus", "BudgetStatusError", "Client", "__version__", "budget_status",
           "configure", "default_client", "flush", "instrument_anthropic", "instrument_openai", "record", "tags"]


def record(provider: str, model: str | None = None, **fields: Any) -> str | None:
    """``Client.record`` on the process-wide client (configured from the environment)."""
    return default_client().record(provider, model, **fields)


def budget_status(scope: str | None = None, *, raise_errors: bool = False) -> BudgetStatus:
    """``Client.budget_status`` on the process-wide client: ``ok``, ``warn``, ``over``, or
    ``unknown`` (fail open) when CostPilot cannot be asked."""
    return default_client().budget_status(scope, raise_errors=raise_errors)


def flush() -> None:
    default_client().flush()
