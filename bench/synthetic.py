"""Seeded generator of realistic third-party API spend series, for benchmarks.

Real spend has: a weekday shape (quiet weekends), an intraday shape (business hours), growth,
launches that step the level up, outages (zero days), month-start batch jobs, multiplicative
noise, and runaway loops (a retry storm or an agent stuck in a loop multiplies spend 3-50x for
hours). Each generator returns values plus labels of the runaway loops it injected, so a detector
can be scored on catching them and on staying quiet on the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

START = np.datetime64("2024-01-01T00:00")


@dataclass(frozen=True)
class SpendSeries:
    """A generated series. ``runaways`` are (first index, last index) of injected loops."""

    timestamps: np.ndarray  # (n,) datetime64[m]
    values: np.ndarray  # (n,) float, non-negative
    runaways: list[tuple[int, int]] = field(default_factory=list)
    kind: str = "daily"
    month_start_job: bool = False


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


def hourly_series(
    seed: int,
    n_hours: int = 24 * 90,
    n_runaways: int = 2,
    month_start_job: bool | None = None,
) -> SpendSeries:
    """Hourly spend with intraday and weekday shape, slow growth and (optionally) month-start jobs.

    ``n_runaways`` loops are injected: spend multiplied 3-50x for 1-12 hours from a random hour
    after the first two weeks. With ``n_runaways=0`` the series is "clean" (for false alarms).
    """
    rng = np.random.default_rng(seed)
    ts = START + np.arange(n_hours).astype("timedelta64[h]")
    hours = np.arange(n_hours)
    hour = hours % 24
    weekday = (hours // 24) % 7  # START is a Monday
    base = np.exp(rng.uniform(np.log(0.2), np.log(20)))
    office = np.exp(-0.5 * ((hour - rng.uniform(11, 16)) / rng.uniform(2.5, 5)) ** 2)
    night = rng.uniform(0.05, 0.5)
    shape = night + (1 - night) * office
    trend = base * np.exp(rng.uniform(-0.0005, 0.002) / 24 * hours)
    values = trend * shape * _weekday_factors(rng)[weekday]
    values *= rng.lognormal(0.0, rng.uniform(0.1, 0.3), n_hours)
    coin = rng.random()
    if month_start_job is None:
        month_start_job = bool(coin < 0.5)
    if month_start_job:
        day_of_month = (ts.astype("datetime64[D]") - ts.astype("datetime64[M]")).astype(
            int
        )
        job = (day_of_month == 0) & (hour >= 2) & (hour < 4)
        values += np.where(job, base * rng.uniform(2, 6), 0.0)
    runaways = []
    for _ in range(n_runaways):
        for _attempt in range(20):
            at = int(rng.integers(24 * 14, n_hours - 12))
            length = int(rng.integers(1, 13))
            if all(at > b + 48 or at + length < a - 48 for a, b in runaways):
                break
        values[at : at + length] *= rng.uniform(3, 50)
        runaways.append((at, at + length - 1))
    return SpendSeries(ts, values, sorted(runaways), "hourly", month_start_job)
