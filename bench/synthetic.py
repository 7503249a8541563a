"""Seeded generators of third-party API spend series, for benchmarks.

``daily_series``: daily spend with a weekday shape, growth, launches, outages, month-start jobs,
multiplicative noise and single-day runaway spikes (the forecast benchmark's synthetic set).

``hourly_series`` (in :mod:`bench.spend_hourly`): the harder hourly generator the spike benchmark
uses, with labelled anomalies (runaway loops, leaked keys) and labelled benign events (recurring
jobs, launch steps, outage catch-ups).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.spend_hourly import BENIGN_TARGET_KINDS, Event, HourlySeries, hourly_series

START = np.datetime64("2024-01-01T00:00")


@dataclass(frozen=True)
class SpendSeries:
    """A generated series. ``runaways`` are (first index, last index) of injected loops."""

    timestamps: np.ndarray  # (n,) datetime64[m]
    values: np.ndarray  # (n,) float, non-negative
    runaways: list[tuple[int, int]] = field(default_factory=list)
    kind: str = "daily"


def _weekday_factors(rng: np.random.Generator) -> np.ndarray:
    """Mon..Sun multipliers; weekends between 20% and 100% of weekdays."""
    weekend = rng.uniform(0.2, 1.0)
    f = np.array([1.05, 1.0, 1.0, 1.0, 0.95, weekend, weekend * rng.uniform(0.8, 1.1)])
    return f * rng.uniform(0.95, 1.05, 7)


def daily_series(seed: int, n_days: int = 425, runaway_days: int = 1) -> SpendSeries:
    """Daily spend with weekday shape, growth, 0-2 launches, 0-1 outage, month-start jobs.

    ``runaway_days`` single-day runaway spikes (3-20x) are injected and labelled.
    """
    rng = np.random.default_rng(seed)
    ts = START.astype("datetime64[D]") + np.arange(n_days)
    weekday = (
        ts.astype("datetime64[D]").view("int64") - 4
    ) % 7  # 1970-01-01 was a Thursday
    level = np.exp(rng.uniform(np.log(5), np.log(500)))
    growth = rng.uniform(-0.001, 0.006)
    trend = level * np.exp(growth * np.arange(n_days))
    for _ in range(rng.integers(0, 3)):
        at = rng.integers(30, n_days)
        trend[at:] *= (
            rng.uniform(1.3, 2.5) if rng.random() < 0.8 else rng.uniform(0.4, 0.8)
        )
    values = trend * _weekday_factors(rng)[weekday]
    values *= rng.lognormal(0.0, rng.uniform(0.05, 0.25), n_days)
    if rng.random() < 0.5:
        day_of_month = (ts - ts.astype("datetime64[M]").astype("datetime64[D]")).astype(
            int
        )
        values += np.where(day_of_month == 0, trend * rng.uniform(0.5, 2.0), 0.0)
    if rng.random() < 0.4:
        at = rng.integers(30, n_days - 3)
        values[at : at + rng.integers(1, 4)] = 0.0
    runaways = []
    for _ in range(runaway_days):
        at = int(rng.integers(60, n_days))
        values[at] *= rng.uniform(3, 20)
        runaways.append((at, at))
    return SpendSeries(ts.astype("datetime64[m]"), values, runaways, "daily")


def five_minute_counts(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` request counts per 5 minutes from START with a daily rhythm (Poisson around 32 at
    midday, 8 at midnight): the grain the spike detector's busy-stretch channel reads."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    ts = START + (5 * i).astype("timedelta64[m]")
    rate = 20.0 * (1.0 + 0.6 * np.sin(2 * np.pi * (i % 288) / 288 - np.pi / 2))
    return ts, rng.poisson(rate).astype(float)


__all__ = [
    "BENIGN_TARGET_KINDS", "Event", "HourlySeries", "SpendSeries",
    "daily_series", "five_minute_counts", "hourly_series",
]
