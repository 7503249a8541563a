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
from costpilot.client import Client, configure, default_client
from costpilot.integrations import instrument_anthropic, instrument_openai
from costpilot.tags import tags

__all__ = ["Api", "ApiError", "Client", "__version__", "configure", "default_client", "flush",
           "instrument_anthropic", "instrument_openai", "record", "tags"]


def record(provider: str, model: str | None = None, **fields: Any) -> str | None:
    """``Client.record`` on the process-wide client (configured from the environment)."""
    return default_client().record(provider, model, **fields)


def flush() -> None:
    default_client().flush()
