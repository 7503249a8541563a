"""The usage response's shape, for the OpenAPI document (the route returns
``UsageResult.to_json()``; tests check the two agree)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Money = str  # an exact decimal string, e.g. "12.92"
STATE = ("`final`: every provider-day in the figure has been billed for good, and spend is the bill. "
         "`provisional`: some provider has not finished billing a day in it (its bill may still grow), "
         "so spend is the larger of the bill so far and what pushed events say, per model where both "
         "name it. A provisional figure never drops when a partial bill lands; once final it may go "
         "down to the bill.")


class _Doc(BaseModel):
    model_config = ConfigDict(defer_build=True, populate_by_name=True)


class UsagePoint(_Doc):
    period: str = Field(description="first UTC day of the period, YYYY-MM-DD")
    group: dict[str, str | None] = Field(description="the group_by dimensions' values")
    currency: str
    spend: Money = Field(description="what was spent, by the attribution rule")
    state: Literal["final", "provisional"] = Field(description=STATE)
    provisional_spend: Money = Field(description="the part of spend from provisional provider-days "
                                     "(spend - provisional_spend is final)")
    billed: Money = Field(description="the providers' own bill so far")
    estimated: Money = Field(description="catalogue estimate of synced usage")
    units: Money
    events: int = Field(description="pushed events")
    unattributed: bool = Field(description="the (unattributed) remainder of a bill")
    over_attributed: bool = Field(description="events add up to more than a final bill")


class UsageTotals(_Doc):
    currency: str
    spend: Money
    state: Literal["final", "provisional"] = Field(description=STATE)
    provisional_spend: Money
    billed: Money
    estimated: Money
    units: Money
    events: int


class LikelyCause(_Doc):
    code: Literal["catalogue_prices_above_bill", "events_pushed_twice", "key_outside_tagged_code"]
    message: str


class OverAttributed(_Doc):
    period: str
    provider: str
    currency: str
    billed: Money
    attributed: Money
    remainder: Money = Field(description="billed - attributed, negative")
    likely_causes: list[LikelyCause] = Field(description="most likely first")


class ProvisionalProviderDay(_Doc):
    day: str
    provider: str
    final_at: str = Field(description="when the provider's bill for the day becomes final (UTC, ISO 8601)")


class UsageResponse(_Doc):
    timezone: Literal["UTC"]
    from_: str = Field(alias="from")
    to: str
    granularity: Literal["day", "week", "month"]
    group_by: list[str]
    filters: dict[str, list[str | None]]
    periods: list[str]
    series: list[UsagePoint]
    totals: list[UsageTotals] = Field(description="one per currency; spend adds final and provisional parts")
    over_attributed: list[OverAttributed] = Field(description="final provider-periods whose events exceed "
                                                  "the bill, with the likely causes")
    provisional: list[ProvisionalProviderDay] = Field(description="provider-days in the range not yet final")
    notice: dict | None = Field(None, description="e.g. history_clipped")
