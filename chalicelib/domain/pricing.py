"""Token prices from a maintained catalogue (pydantic's ``genai-prices``), as exact ``Decimal``.

The provider's billed cost is the spend truth; this module only *estimates* the cost of token
usage, for analytics and to show the difference between estimate and bill (DESIGN.md, Pricing).

Conventions (read these before calling):
- ``input_tokens`` is **uncached input only**. OpenAI's usage ``input_tokens`` *includes* cached
  and cache-write tokens, so the caller subtracts them first; Anthropic's
  ``uncached_input_tokens`` already is uncached-only. The catalogue's own ``input_tokens`` is the
  total, so we add the parts back before pricing.
- ``cache_write_tokens`` are 5-minute (default TTL) cache writes; Anthropic's 1-hour writes go in
  ``cache_write_1h_tokens`` because they are priced higher.
- Usage is a daily aggregate over many requests, so per-request context-size tiers cannot be
  known: tiered prices use their base tier.
- Batch: the catalogue models the batch tier for many models (price variant
  ``processing=batch``). Where it does not, the provider's documented flat batch discount
  (``DOCUMENTED_BATCH_MULTIPLIER``) is applied to the standard price.
- An unknown provider or model gives ``None`` (never an exception): the caller keeps the record
  with no estimate.
- Google: ``google``, ``gemini``, ``google-vertex`` and ``gcp`` (Vertex AI from code) all price
  Gemini models; the Gemini API's resource names (``models/gemini-2.5-flash``, Vertex's
  ``publishers/google/models/...``) are reduced to the model id. From Gemini's ``usageMetadata``:
  ``input_tokens`` = ``promptTokenCount`` - ``cachedContentTokenCount`` (+ ``toolUsePromptTokenCount``),
  ``cached_input_tokens`` = ``cachedContentTokenCount``, ``output_tokens`` = ``candidatesTokenCount``
  + ``thoughtsTokenCount`` (thinking is billed as output).

``genai_prices`` is imported inside functions: its price table is large and Lambda cold starts
pay for every import.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import add, multiply

# The providers' published batch discount, used only when the catalogue has no batch variant for a
# model: OpenAI Batch API and Anthropic Message Batches are both 50% of standard rates, cache
# reads/writes included. Sources: platform.openai.com/docs/guides/batch (pricing);
# platform.claude.com/docs/en/build-with-claude/batch-processing#pricing.
# Gemini Batch Mode is likewise 50% of the interactive price (ai.google.dev/gemini-api/docs/batch-mode).
DOCUMENTED_BATCH_MULTIPLIER: dict[str, Decimal] = {
    "openai": Decimal("0.5"),
    "anthropic": Decimal("0.5"),
    "google": Decimal("0.5"),
}
# A provider name a client may push that the catalogue knows under another id.
_CATALOGUE_PROVIDER = {"gcp": "google-vertex"}
# Names of Google's Gemini offerings, for the documented batch discount.
_GOOGLE = frozenset({"google", "gemini", "google-vertex", "vertex", "vertex_ai", "google-gla", "gcp"})

_BATCH_CONTEXT = {"processing": "batch"}
_PER_MILLION = -6  # prices are per million tokens: scale by 10**-6, exact


def _find_model(provider: str, model: str) -> Any | None:
    """The catalogue's model entry, or ``None`` if the provider or model is unknown."""
    if not provider or not model:
        return None
    provider = _CATALOGUE_PROVIDER.get(provider.lower(), provider)
    if "models/" in model:  # "models/gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash"
        model = model.rsplit("models/", 1)[1]
    from genai_prices import data_snapshot

    try:
        _provider, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except (LookupError, ValueError):
        return None
    return info


def _has_batch_variant(info: Any, at: datetime) -> bool:
    for variant in getattr(info, "price_variants", None) or ():
        if variant.when.get("processing") == "batch" and (
            variant.constraint is None or variant.constraint.active(at)
        ):
            return True
    return False


def _flat(price: Any) -> Decimal | None:
    """A per-million price as ``Decimal``; tiered prices give their base tier (see module doc)."""
    if price is None:
        return None
    base = getattr(price, "base", price)
    return base if isinstance(base, Decimal) else Decimal(str(base))


def _or(price: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if price is None else price


def _at(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _resolve(provider: str, model: str, *, batch: bool, at: datetime) -> tuple[Any, Decimal] | None:
    """(catalogue prices, multiplier still to apply) for the tier, or ``None`` if unknown."""
    info = _find_model(provider, model)
    if info is None:
        return None
    if not batch:
        return info.get_prices(at), Decimal(1)
    if _has_batch_variant(info, at):
        return info.get_prices(at, _BATCH_CONTEXT), Decimal(1)
    name = provider.lower()
    multiplier = DOCUMENTED_BATCH_MULTIPLIER.get("google" if name in _GOOGLE else name)
    if multiplier is None:
        return None  # no known batch price for this provider: do not guess
    return info.get_prices(at), multiplier


def price_per_million(
    provider: str, model: str, *, batch: bool = False, at: datetime | None = None
) -> tuple[Decimal, Decimal] | None:
    """(input, output) price in USD per million tokens, or ``None`` for an unknown model."""
    resolved = _resolve(provider, model, batch=batch, at=_at(at))
    if resolved is None:
        return None
    prices, multiplier = resolved
    input_price, output_price = _flat(prices.input_mtok), _flat(prices.output_mtok)
    if input_price is None or output_price is None:
        return None
    return multiply(input_price, multiplier), multiply(output_price, multiplier)


def estimate_cost(
    provider: str,
    model: str | None,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    batch: bool = False,
    at: datetime | None = None,
) -> Decimal | None:
    """Estimated USD cost of token usage, exact; ``None`` if the model is not in the catalogue.

    ``input_tokens`` is uncached input only (see module doc); ``cached_input_tokens`` are cache
    reads; ``cache_write_tokens`` 5-minute cache writes, ``cache_write_1h_tokens`` 1-hour ones.
    Cache tokens without a catalogue price of their own are priced as plain input.
    """
    counts = (input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cache_write_1h_tokens)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts):
        raise ValueError("token counts must be non-negative integers")
    if model is None:
        return None
    resolved = _resolve(provider, model, batch=batch, at=_at(at))
    if resolved is None:
        return None
    prices, multiplier = resolved
    input_price = _flat(prices.input_mtok)
    output_price = _flat(prices.output_mtok)
    if input_price is None or output_price is None:
        return None
    cache_read_price = _or(_flat(prices.cache_read_mtok), input_price)
    cache_write_price = _or(_flat(prices.cache_write_mtok), input_price)
    cache_write_1h_price = _or(_flat(prices.cache_write_1h_mtok), cache_write_price)
    total = Decimal(0)
    for tokens, price in (
        (input_tokens, input_price),
        (output_tokens, output_price),
        (cached_input_tokens, cache_read_price),
        (cache_write_tokens, cache_write_price),
        (cache_write_1h_tokens, cache_write_1h_price),
    ):
        if tokens:
            total = add(total, multiply(Decimal(tokens), price).scaleb(_PER_MILLION))
    return multiply(total, multiplier)
