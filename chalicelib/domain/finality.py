"""When a provider's bill for a UTC day stops changing: the day is *final* from then on.

Until then the provider-day is *provisional*: its bill so far may still grow (OpenAI's daily cost
buckets fill in through the day and are restated for 2-3 days), so spend is the larger of the bill
so far and what pushed events say (``usage_query``). Each rule is how long after the end of the UTC
day (the next midnight) the provider's cost for that day stops changing, from
``shared/providers.md`` (Freshness sections):

* OpenAI: not documented; recent buckets fill in and are restated over the last 2-3 days: 2 days.
* Anthropic: cost data typically appears within ~5 minutes, but complete daily cost buckets were
  observed to lag by about a day: 1 day.
* Twilio: usage takes time to be reflected; re-pull the last 2-3 days: 2 days.
* Stripe: a charge's fee is known when the charge is created; separately billed product fees
  arrive later as their own rows (timing unconfirmed): 1 day.
* AWS Cost Explorer: refreshed up to three times a day, the latest day partial and
  ``Estimated``: 2 days.
* Google Cloud billing export: lands through the day with hours of lag: 2 days.
* Any other provider (pushed events only, nothing billed to compare with): 2 days.

The sync re-fetches the last ``COSTPILOT_RESTATEMENT_DAYS`` (default 3) days on every run, so a
day is re-read until at least two days after it ends, which covers every rule above.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

FINAL_AFTER: dict[str, timedelta] = {
    "openai": timedelta(days=2),
    "anthropic": timedelta(days=1),
    "twilio": timedelta(days=2),
    "stripe": timedelta(days=1),
    "aws": timedelta(days=2),
    "google": timedelta(days=2),
}
DEFAULT_FINAL_AFTER = timedelta(days=2)
FINAL, PROVISIONAL = "final", "provisional"


def final_after(provider: str) -> timedelta:
    """How long after the end of a UTC day the provider's cost for it stops changing."""
    return FINAL_AFTER.get(provider, DEFAULT_FINAL_AFTER)


def final_at(provider: str, day: date) -> datetime:
    """The moment the provider's bill for ``day`` is final (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), UTC) + final_after(provider)


def is_final(provider: str, day: date, now: datetime) -> bool:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now >= final_at(provider, day)


def state(provider: str, day: date, now: datetime) -> str:
    return FINAL if is_final(provider, day, now) else PROVISIONAL


def first_provisional_day(now: datetime) -> date:
    """The earliest UTC day that may still be provisional for some provider at ``now``: every
    day before it is final for every provider."""
    longest = max((*FINAL_AFTER.values(), DEFAULT_FINAL_AFTER))
    # final_at(day) = midnight(day + 1) + longest > now  <=>  day > now - longest - 1 day
    return (now.astimezone(UTC) - longest).date()
