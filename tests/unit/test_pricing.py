"""Token cost estimates from the genai-prices catalogue: exact, cheaper when cached or batched."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.domain import pricing
from chalicelib.domain.pricing import estimate_cost, price_per_million

AT = datetime(2025, 9, 1, tzinfo=UTC)


def test_known_model_cost_is_exact():
    # gpt-4o-mini: $0.15 / $0.60 per million; $0.075 cached
    assert estimate_cost("openai", "gpt-4o-mini-2024-07-18", input_tokens=1_842_272, at=AT) == Decimal("0.2763408")
    assert estimate_cost("openai", "gpt-4o-mini", output_tokens=212_077, at=AT) == Decimal("0.1272462")
    assert price_per_million("openai", "gpt-4o-mini", at=AT) == (Decimal("0.15"), Decimal("0.6"))
    total = estimate_cost(
        "anthropic", "claude-sonnet-4-20250514", input_tokens=412_880, cached_input_tokens=1_935_200,
        cache_write_tokens=86_410, output_tokens=97_342, at=AT,
    )
    # 412880x3 + 1935200x0.30 + 86410x3.75 + 97342x15, per million
    assert total == Decimal("1.23864") + Decimal("0.58056") + Decimal("0.3240375") + Decimal("1.46013")
    assert isinstance(total, Decimal)


def test_cached_input_is_cheaper_than_uncached():
    uncached = estimate_cost("openai", "gpt-4o-mini", input_tokens=1_000_000, at=AT)
    cached = estimate_cost("openai", "gpt-4o-mini", cached_input_tokens=1_000_000, at=AT)
    assert cached == Decimal("0.075") and uncached == Decimal("0.15")


def test_cache_writes_priced_by_ttl():
    five_minutes = estimate_cost("anthropic", "claude-sonnet-4-20250514", cache_write_tokens=1_000_000, at=AT)
    one_hour = estimate_cost("anthropic", "claude-sonnet-4-20250514", cache_write_1h_tokens=1_000_000, at=AT)
    assert (five_minutes, one_hour) == (Decimal("3.75"), Decimal(6))


def test_batch_is_cheaper_from_the_catalogue_variant():
    standard = estimate_cost("openai", "gpt-4.1-mini", input_tokens=1_000_000, output_tokens=1_000_000, at=AT)
    batch = estimate_cost("openai", "gpt-4.1-mini", input_tokens=1_000_000, output_tokens=1_000_000, batch=True, at=AT)
    assert batch == standard / 2
    assert price_per_million("openai", "gpt-4.1-mini", batch=True, at=AT) == (Decimal("0.2"), Decimal("0.8"))


def test_batch_falls_back_to_the_documented_discount(monkeypatch):
    # claude-sonnet-4-0 has no batch variant in the catalogue: the documented 50% applies
    assert not pricing._has_batch_variant(pricing._find_model("anthropic", "claude-sonnet-4-20250514"), AT)
    batch = estimate_cost("anthropic", "claude-sonnet-4-20250514", input_tokens=1_000_000, batch=True, at=AT)
    assert batch == Decimal("1.5")
    monkeypatch.setitem(pricing.DOCUMENTED_BATCH_MULTIPLIER, "anthropic", Decimal("0.4"))
    cost = estimate_cost("anthropic", "claude-sonnet-4-20250514", input_tokens=1_000_000, batch=True, at=AT)
    assert cost == Decimal("1.2")


def test_unknown_model_or_provider_gives_none():
    assert estimate_cost("openai", "gpt-does-not-exist-9000", input_tokens=10) is None
    assert estimate_cost("nope", "gpt-4o-mini", input_tokens=10) is None
    assert estimate_cost("openai", None, input_tokens=10) is None
    assert price_per_million("anthropic", "claude-unknown-1") is None


def test_zero_tokens_cost_zero_and_bad_counts_are_refused():
    assert estimate_cost("openai", "gpt-4o-mini") == Decimal(0)
    with pytest.raises(ValueError):
        estimate_cost("openai", "gpt-4o-mini", input_tokens=-1)
    with pytest.raises(ValueError):
        estimate_cost("openai", "gpt-4o-mini", input_tokens=1.5)


def test_catalogue_is_not_imported_at_module_import():
    code = "import sys, chalicelib.domain.pricing; print('genai_prices' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- Gemini (Google AI Studio / Vertex AI) ---------------------------------------------------

GEMINI_AT = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize("provider", ["google", "gemini", "google-vertex", "gcp", "GOOGLE"])
@pytest.mark.parametrize("model", ["gemini-2.5-flash", "models/gemini-2.5-flash",
                                   "publishers/google/models/gemini-2.5-flash"])
def test_gemini_models_are_priced_under_every_google_name(provider, model):
    # gemini-2.5-flash: $0.30 input, $0.03 cached input, $2.50 output per million
    assert price_per_million(provider, model, at=GEMINI_AT) == (Decimal("0.3"), Decimal("2.5"))
    assert estimate_cost(provider, model, input_tokens=1_000_000, cached_input_tokens=1_000_000,
                         output_tokens=1_000_000, at=GEMINI_AT) == Decimal("2.83")


def test_gemini_usage_metadata_priced_as_documented():
    # usageMetadata of one generateContent call (thinking model, with a cached prefix)
    meta = {"promptTokenCount": 12_480, "cachedContentTokenCount": 8_192, "candidatesTokenCount": 911,
            "thoughtsTokenCount": 1_304, "totalTokenCount": 14_695}
    cost = estimate_cost(
        "google", "gemini-2.5-flash", at=GEMINI_AT,
        input_tokens=meta["promptTokenCount"] - meta["cachedContentTokenCount"],
        cached_input_tokens=meta["cachedContentTokenCount"],
        output_tokens=meta["candidatesTokenCount"] + meta["thoughtsTokenCount"],
    )
    # (4288 x 0.30 + 8192 x 0.03 + 2215 x 2.50) / 1e6
    assert cost == Decimal("0.0012864") + Decimal("0.00024576") + Decimal("0.0055375")


def test_gemini_batch_uses_the_catalogue_variant_or_the_documented_half_price():
    standard = estimate_cost("google", "gemini-2.0-flash", input_tokens=1_000_000, output_tokens=1_000_000,
                             at=GEMINI_AT)
    batch = estimate_cost("gemini", "gemini-2.0-flash", input_tokens=1_000_000, output_tokens=1_000_000,
                          batch=True, at=GEMINI_AT)
    assert standard == Decimal("0.5") and batch == Decimal("0.25")  # no batch variant: the documented 50%
    assert estimate_cost("google", "gemini-2.5-pro", output_tokens=1_000_000, batch=True, at=GEMINI_AT) == Decimal(5)


def test_unknown_gemini_model_has_no_estimate():
    assert estimate_cost("google", "gemini-99-ultra-max", input_tokens=10, at=GEMINI_AT) is None
