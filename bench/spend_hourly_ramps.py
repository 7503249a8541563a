"""A second, independently written family of hourly API-spend series: autocorrelated noise, ramps.

:mod:`bench.spend_hourly` is the family the spike detector's constants were chosen on (its tuning
seeds). Others measure the detector on series it has not seen, so this family differs on purpose
in every choice that family made:

- two daily peaks (a morning and an evening one, each with its own height) and a free weekday
  profile (each day 0.3-1.3), instead of one peak and a business/consumer weekend;
- noise that is *autocorrelated* (AR(1) in log space, phi 0.3-0.8, Laplace innovations) instead
  of independent hours, so busy and quiet spells last a few hours;
- overdispersed counts (negative binomial) for small accounts instead of Poisson;
- growth that changes slope once (a piecewise linear log trend);
- a nightly job (every day at the same hour, 2-4x), a monthly job on the 1st or the 15th local
  time, a weekly job; launches that phase in over 1-3 hours (1.5-3x in the end);
- runaway loops that *ramp*: the first hour 2-6x, then 3-50x (a retry storm that feeds itself),
  1-8 hours; leaked keys whose flat extra is 1-10x the *daily mean* hour (not the onset hour's),
  starting at any hour, 1-4 days; outages of 1-6 hours with a catch-up.

No constant of the detector was chosen on this family. Labels and masks as in
:mod:`bench.spend_hourly` (:class:`bench.spend_hourly.Event`, :class:`bench.spend_hourly.HourlySeries`),
so the spike benchmark scores it the same way. Seeds follow :mod:`bench.splits` with their own
offset (RAMPS_SEED_OFFSET).
"""

from __future__ import annotations

import numpy as np

from bench.spend_hourly import START, EventBook, HourlySeries, labelled

#: Seed offset of this family inside each split's seed range.
RAMPS_SEED_OFFSET = 300_000


def _usual(rng: np.random.Generator, n: int) -> tuple[np.ndarray, float, int]:
    """The usual spend per hour (before noise and events), its mean level and the UTC offset."""
    tz = int(rng.integers(-10, 14))
    local = np.arange(n) + tz
    hour, weekday = local % 24, (local // 24) % 7
    level = float(np.exp(rng.uniform(np.log(0.01), np.log(500))))
    morning, evening = rng.uniform(8, 12), rng.uniform(16, 22)
    day = (
        rng.uniform(0.05, 0.5)
        + rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((hour - morning) / rng.uniform(1.5, 3.5)) ** 2)
        + rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((hour - evening) / rng.uniform(1.5, 3.5)) ** 2)
    )
    week = rng.uniform(0.3, 1.3, 7)
    bend = rng.uniform(0.2, 0.8) * n
    slopes = rng.uniform(-0.5, 0.8, 2) / n
    t = np.arange(n)
    trend = np.where(t < bend, slopes[0] * t, slopes[0] * bend + slopes[1] * (t - bend))
    shape = week[weekday] * day * np.exp(trend)
    return level * shape / shape.mean(), level, tz


def _noisy(rng: np.random.Generator, mean: np.ndarray, level: float) -> np.ndarray:
    """AR(1) log noise with Laplace innovations; negative-binomial counts for small accounts."""
    n = mean.shape[0]
    phi, sd = rng.uniform(0.3, 0.8), rng.uniform(0.05, 0.3)
    shocks = rng.laplace(0.0, sd / np.sqrt(2), n)
    noise = np.empty(n)
    noise[0] = shocks[0]
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + np.sqrt(1 - phi**2) * shocks[i]
    v = mean * np.exp(np.clip(noise, -2.0, 2.0))
    if level < 2 or rng.random() < 0.25:
        unit = level / np.exp(rng.uniform(np.log(5), np.log(500)))
        r = rng.uniform(2, 20)  # dispersion: variance = m + m^2 / r
        lam = rng.gamma(r, (v / unit) / r)
        v = rng.poisson(lam) * unit
    return v


def ramps_series(seed: int, n_hours: int = 24 * 120) -> HourlySeries:
    """One seeded series of ``n_hours`` hours with labelled events (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = n_hours
    base, level, tz = _usual(rng, n)
    ts = START + np.arange(n).astype("timedelta64[h]")
    local = ts + np.timedelta64(tz, "h")
    dom = (local.astype("datetime64[D]") - local.astype("datetime64[M]")).astype(int)
    hour = (np.arange(n) + tz) % 24
    weekday = ((np.arange(n) + tz) // 24) % 7
    book = EventBook(n)
    events, busy, free, take = book.events, book.busy, book.free, book.take

    mult = np.ones(n)
    if rng.random() < 0.5:  # a launch phased in over 1-3 hours
        at, steps = int(rng.integers(24 * 21, n - 48)), int(rng.integers(1, 4))
        final = rng.uniform(1.5, 3.0)
        mult[at:] *= final
        mult[at : at + steps] = 1.0 + (final - 1.0) * np.arange(1, steps + 1) / (steps + 1)
        take("launch", at, at + 23, False)
    extra = np.zeros(n)

    def recurring(kind: str, runs: np.ndarray, size: float, length: int) -> None:
        for k, a in enumerate(runs):
            a = int(a)
            if a + length < n and not busy[a : a + length].any():
                extra[a : a + length] += size
                if k > 0:
                    take(kind, a, a + length - 1, False)
                else:
                    busy[a : a + length] = True

    if rng.random() < 0.3:  # a nightly job: every day at the same hour
        at_hour = int(rng.integers(0, 6))
        recurring("daily job", np.nonzero(hour == at_hour)[0], level * rng.uniform(2, 4), 1)
    if rng.random() < 0.5:  # a monthly job on the 1st or the 15th
        day, at_hour = int(rng.choice([0, 14])), int(rng.integers(0, 24))
        runs = np.nonzero((dom == day) & (hour == at_hour))[0]
        recurring("monthly job", runs, level * rng.uniform(3, 8), int(rng.integers(1, 3)))
    if rng.random() < 0.4:  # a weekly job
        wd, at_hour = int(rng.integers(0, 7)), int(rng.integers(0, 24))
        runs = np.nonzero((weekday == wd) & (hour == at_hour))[0]
        recurring("weekly job", runs, level * rng.uniform(2, 6), 1)
    values = _noisy(rng, base * mult, level) + extra
    if rng.random() < 0.4:  # an outage with a catch-up
        for _ in range(20):
            a, length = int(rng.integers(24 * 14, n - 30)), int(rng.integers(1, 7))
            if free(a, a + length + 3):
                backlog = values[a : a + length].sum()
                values[a : a + length] = 0.0
                values[a + length] += backlog
                take("catch-up", a + length, a + length, False)
                break
    for _ in range(int(rng.integers(0, 3))):
        for _ in range(50):
            if rng.random() < 0.6:  # a runaway loop that ramps
                a, length = int(rng.integers(24 * 14, n - 12)), int(rng.integers(1, 9))
                if free(a, a + length - 1):
                    top = np.exp(rng.uniform(np.log(3), np.log(50)))
                    factor = np.full(length, top)
                    factor[0] = min(rng.uniform(2, 6), top)
                    usual = base[a : a + length] * mult[a : a + length]
                    values[a : a + length] += (factor - 1.0) * usual
                    take("runaway loop", a, a + length - 1, True)
                    break
            else:  # a leaked key: a flat extra, from any hour
                a, length = int(rng.integers(24 * 14, n - 24 * 5)), int(rng.integers(24, 24 * 4))
                if free(a, a + length - 1):
                    values[a : a + length] += level * rng.uniform(1, 10)
                    take("leaked key", a, a + length - 1, True)
                    break
    return labelled(ts, values, events, busy, base * mult)
