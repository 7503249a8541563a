"""Record usage from the official provider clients without changing call sites."""

from costpilot.integrations.anthropic_client import instrument_anthropic
from costpilot.integrations.openai_client import instrument_openai

__all__ = ["instrument_anthropic", "instrument_openai"]
