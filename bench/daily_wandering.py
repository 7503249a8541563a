"""Daily series whose level wanders, for the forecast benchmark's "wandering" group.

Ad prices, finance, most M4-daily-like data and spend whose level drifts are not noise around a
level: the level itself is a random walk (in logs), with or without drift, and a weekly shape and
day-to-day noise sit on top. Medians and seasonal naive, which the seasonal tuning data (Wikipedia
page views) favours, lag such a level by days. Per seed:

- log-level random walk with a step sd of 0.005-0.05 a day (log-uniform), a drift of up to
  +-0.4% a day on 40% of the seeds;
- a weekly shape on 60% of the seeds (weekends 40-100% of weekdays, small weekday jitter);
- multiplicative log-normal noise with sd 0-0.15;
- a starting level of $1 to $1000 a day (log-uniform);
- 42-400 days of history, a 7-30 day horizon.

Seeds follow :mod:`bench.splits` (tuning below ``REPORT_SEED_BASE``). Arrays are positive.
:func:`wandering_kind` names which of three kinds a seed drew (drift; a weekly shape and no drift;
neither), since the forecast's losses against AutoETS differ by kind.
"""

from __future__ import annotations

import numpy as np

MIN_DAYS, MAX_DAYS = 42, 400
MIN_HORIZON, MAX_HORIZON = 7, 30


#: The kinds :func:`wandering_kind` names.
KINDS = ("drift", "weekly", "flat")


def wandering_series(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, future) of ``seed``: shapes (42..400,) and (7..30,), positive daily values."""
    history, future, _ = _draw(seed)
    return history, future


def wandering_kind(seed: int) -> str:
    """"drift" if ``seed``'s level drifts, else "weekly" with a weekly shape, else "flat"."""
    return _draw(seed)[2]


def _draw(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_DAYS, MAX_DAYS + 1))
    horizon = int(rng.integers(MIN_HORIZON, MAX_HORIZON + 1))
    total = n + horizon
    step_sd = float(np.exp(rng.uniform(np.log(0.005), np.log(0.05))))
    drift = float(rng.uniform(-0.004, 0.004)) if rng.random() < 0.4 else 0.0
    level = float(np.exp(rng.uniform(np.log(1.0), np.log(1000.0))))
    log_level = np.cumsum(rng.normal(drift, step_sd, total))
    week = np.ones(7)
    weekly = rng.random() < 0.6
    if weekly:
        weekend = rng.uniform(0.4, 1.0)
        week = np.array([1.0, 1.0, 1.0, 1.0, 1.0, weekend, weekend]) * rng.uniform(0.95, 1.05, 7)
    phase = int(rng.integers(7))
    noise = float(rng.uniform(0.0, 0.15))
    t = np.arange(total)
    x = level * np.exp(log_level) * week[(t + phase) % 7] * rng.lognormal(0.0, noise, total)
    kind = "drift" if drift != 0.0 else "weekly" if weekly else "flat"
    return x[:n], x[n:], kind
