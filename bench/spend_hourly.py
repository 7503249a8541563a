"""Seeded generator of hard hourly API-spend series with labelled anomalies and benign events.

Wider and harder than a clean office-hours curve, because real accounts are:

- levels from cents to hundreds of dollars an hour (log-uniform 0.02-300 $/h);
- in any time zone (the daily shape is shifted by a random UTC offset);
- of different weekly shapes: business (quiet weekends), consumer (flat or busier weekends);
- noisy with heavy tails (Student-t noise in log space, 3-10 degrees of freedom);
- count-valued: small accounts pay per request, so spend is a Poisson count times a unit price,
  with many zero hours;
- missing hours (spend reported as zero), outages (zero for hours) followed by a catch-up
  (the backlog billed in the next hours);
- recurring jobs on fixed days: a monthly batch on a fixed day of the month and hour (the 1st for
  MONTH_START_SHARE of them: in a time zone ahead of UTC, the last day of the month in UTC), a
  weekly job on a fixed weekday and hour;
- launches: permanent 1.5-3x steps of the whole level; slow ramps (growth or decline over weeks).

Anomalies: runaway loops (spend 3-50x the usual for 1-12 hours) and leaked keys (a flat extra
spend, round the clock for 1-5 days, from an onset at night or on a weekend, of 2-19x the usual
spend at the onset hour: 3-20x at onset, less in busy hours). Each is an :class:`Event` with
``anomaly=True``. Benign events (``anomaly=False``) are launches and recurring jobs from their
second occurrence on (the first run of a job is news);
outage catch-ups are labelled ``catch-up`` and are neither anomalies nor counted as benign targets.
``clean_mask`` marks the hours outside every labelled event (and outside the 24 hours after an
anomaly or a catch-up): alarms there are false alarms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START = np.datetime64("2024-01-01T00:00")  # a Monday
BENIGN_TARGET_KINDS = ("monthly job", "weekly job", "daily job", "launch")  # daily: bench.spend_hourly_ramps
#: Share of monthly jobs that run on the 1st of the month (local time).
MONTH_START_SHARE = 0.4


@dataclass(frozen=True)
class Event:
    kind: str  # "runaway loop", "leaked key", "monthly job", "weekly job", "launch", "catch-up"
    start: int  # first hour index
    end: int  # last hour index
    anomaly: bool


@dataclass(frozen=True)
class HourlySeries:
    timestamps: np.ndarray  # (n,) datetime64[m]
    values: np.ndarray  # (n,) float >= 0, $ per hour
    events: list[Event]
    clean_mask: np.ndarray  # (n,) bool
    usual: np.ndarray  # (n,) the usual spend per hour before noise and events (bench.spike_oracle)


class EventBook:
    """The labelled events of a series being generated, and the hours they take (they never
    overlap, and two stand at least 48 hours apart when placed with ``free``)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.events: list[Event] = []
        self.busy = np.zeros(n, bool)

    def free(self, a: int, b: int) -> bool:
        return a >= 0 and b < self.n and not self.busy[max(a - 48, 0) : b + 49].any()

    def take(self, kind: str, a: int, b: int, anomaly: bool) -> None:
        self.busy[a : b + 1] = True
        self.events.append(Event(kind, a, b, anomaly))


def labelled(
    ts: np.ndarray, values: np.ndarray, events: list[Event], busy: np.ndarray, usual: np.ndarray
) -> HourlySeries:
    """The series with its events in order and its clean mask: the hours outside every event
    (``busy``), and outside the 24 hours after an anomaly or a catch-up; ``usual``: the spend per
    hour before noise and events."""
    clean = ~busy
    for ev in events:
        if ev.anomaly or ev.kind == "catch-up":
            clean[ev.start : ev.end + 25] = False
    return HourlySeries(ts.astype("datetime64[m]"), values, sorted(events, key=lambda e: e.start), clean, usual)


def _expected(rng: np.random.Generator, n: int) -> tuple[np.ndarray, float, int]:
    """The usual spend per hour (before noise and events), its mean level and the UTC offset."""
    hours = np.arange(n)
    tz = int(rng.integers(-11, 13))
    local = hours + tz
    hour, weekday = local % 24, (local // 24) % 7
    level = float(np.exp(rng.uniform(np.log(0.02), np.log(300))))
    kind = rng.choice(["business", "consumer", "flat"], p=[0.5, 0.3, 0.2])
    if kind == "business":
        week = np.array([1.0, 1.0, 1.0, 1.0, 0.9, *(rng.uniform(0.1, 0.6, 2))])
        peak = rng.uniform(10, 16)
        day = rng.uniform(0.05, 0.4) + np.exp(
            -0.5 * ((hour - peak) / rng.uniform(2, 4.5)) ** 2
        )
    elif kind == "consumer":
        week = np.array([0.9, 0.9, 0.9, 0.95, 1.0, *(rng.uniform(1.0, 1.4, 2))])
        peak = rng.uniform(18, 22)
        day = rng.uniform(0.2, 0.6) + np.exp(
            -0.5 * ((hour - peak) / rng.uniform(3, 6)) ** 2
        )
    else:
        week = rng.uniform(0.9, 1.1, 7)
        day = 1.0 + 0.1 * np.sin(2 * np.pi * hour / 24 + rng.uniform(0, 6.3))
    shape = week[weekday] * day
    shape /= shape.mean()
    ramp = (
        np.exp(rng.uniform(-0.4, 1.0) * hours / n) if rng.random() < 0.5 else np.ones(n)
    )
    return level * shape * ramp, level, tz


def _noisy(rng: np.random.Generator, mean: np.ndarray, level: float) -> np.ndarray:
    """Heavy-tailed multiplicative noise; per-request billing (counts) for small accounts."""
    sd = rng.uniform(0.05, 0.25)
    noise = np.exp(sd * rng.standard_t(rng.uniform(3, 10), mean.shape[0]).clip(-6, 6))
    v = mean * noise
    if level < 3 or rng.random() < 0.3:
        # price per request: 10-1000 requests in a mean hour
        unit = level / np.exp(rng.uniform(np.log(10), np.log(1000)))
        v = rng.poisson(v / unit) * unit
    return v


def hourly_series(
    seed: int, n_hours: int = 24 * 120, anomalies: int | None = None
) -> HourlySeries:
    """One seeded series of ``n_hours`` hours with labelled events (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = n_hours
    base, level, tz = _expected(rng, n)
    book = EventBook(n)
    events, busy, free, take = book.events, book.busy, book.free, book.take

    mult = np.ones(n)
    if rng.random() < 0.5:  # launch: permanent step
        at = int(rng.integers(24 * 21, n - 48))
        mult[at:] *= rng.uniform(1.5, 3.0)
        take("launch", at, at + 23, False)
    extra = np.zeros(n)
    ts = START + np.arange(n).astype("timedelta64[h]")
    local = ts + np.timedelta64(tz, "h")
    dom = (local.astype("datetime64[D]") - local.astype("datetime64[M]")).astype(int)
    hour = np.arange(n) + tz
    if rng.random() < 0.5:  # monthly batch job on a fixed day and hour
        day, at_hour, length = (
            int(rng.integers(0, 28)),
            int(rng.integers(0, 24)),
            int(rng.integers(1, 4)),
        )
        # Month-start batches (billing runs, reports) are the most common: 40% run on the 1st,
        # local time. Drawn from a stream of its own so that every other draw stays as it was.
        if np.random.default_rng((seed, 1)).random() < MONTH_START_SHARE:
            day = 0
        size = level * rng.uniform(2, 10)
        runs = np.nonzero((dom == day) & (hour % 24 == at_hour))[0]
        for k, a in enumerate(runs):
            if a + length < n:
                extra[a : a + length] += size
                if k > 0:
                    take("monthly job", int(a), int(a + length - 1), False)
                else:
                    busy[a : a + length] = True
    if rng.random() < 0.4:  # weekly job
        wd, at_hour = int(rng.integers(0, 7)), int(rng.integers(0, 24))
        size = level * rng.uniform(2, 6)
        runs = np.nonzero(((hour // 24) % 7 == wd) & (hour % 24 == at_hour))[0]
        for k, a in enumerate(runs):
            if not busy[a]:
                extra[a] += size
                if k > 0:
                    take("weekly job", int(a), int(a), False)
                else:
                    busy[a] = True
    values = _noisy(rng, base * mult, level) + extra
    if rng.random() < 0.3:  # missing hours reported as zero
        values[rng.random(n) < rng.uniform(0.005, 0.03)] = 0.0
    if rng.random() < 0.4:  # outage with catch-up
        for _ in range(20):
            a, length = int(rng.integers(24 * 14, n - 30)), int(rng.integers(2, 13))
            if free(a, a + length + 3):
                backlog = values[a : a + length].sum()
                values[a : a + length] = 0.0
                spread = int(rng.integers(1, 4))
                values[a + length : a + length + spread] += backlog / spread
                take("catch-up", a + length, a + length + spread - 1, False)
                break
    count = int(rng.integers(0, 3)) if anomalies is None else anomalies
    for _ in range(count):
        for _ in range(50):
            if rng.random() < 0.6:
                a, length = int(rng.integers(24 * 14, n - 12)), int(rng.integers(1, 13))
                if free(a, a + length - 1):
                    factor = np.exp(rng.uniform(np.log(3), np.log(50)))
                    usual = np.maximum(base[a : a + length] * mult[a : a + length], 0.0)
                    values[a : a + length] += (factor - 1) * usual
                    take("runaway loop", a, a + length - 1, True)
                    break
            else:
                a, length = (
                    int(rng.integers(24 * 14, n - 24 * 5)),
                    int(rng.integers(24, 24 * 5)),
                )
                local_hour, local_day = (a + tz) % 24, ((a + tz) // 24) % 7
                night_or_weekend = local_hour >= 21 or local_hour < 6 or local_day >= 5
                if night_or_weekend and free(a, a + length - 1):
                    usual = float(base[a] * mult[a])
                    values[a : a + length] += usual * rng.uniform(2, 19)
                    take("leaked key", a, a + length - 1, True)
                    break
    return labelled(ts, values, events, busy, base * mult)
