"""Weekly seasonality of daily spend, estimated so that bad days cannot distort it.

Business API spend has a weekday shape (quiet weekends, busy Mondays). The shape is a set of seven
multiplicative factors with mean one. Each day is compared with the centred 7-day median around it
(a ratio that neither trends nor level shifts disturb), and each weekday's factor is the median of
its ratios over recent weeks. Factors are then shrunk towards one by how much of their spread is
noise, so a series without a weekly pattern gets (almost) flat factors instead of invented ones.
"""

from __future__ import annotations

import numpy as np

from chalicelib.engines.robust import MAD_TO_SD, nanmedian_rows, rolling_median

PERIOD = 7
#: Recent weeks used for the profile: up to a year (all that the forecast keeps). The median of
#: 12 weeks' ratios was noisy enough to cost accuracy wherever more history was there: on the
#: tuning split of bench/forecast_bench.py 52 weeks beat 12 and 26 on the 365-day groups and on
#: wandering levels, and no group lost (a team whose weekday habits change is followed by the
#: Holt-Winters seasonal terms, which keep updating).
PROFILE_WEEKS = 52


def phases(n: int, period: int = PERIOD) -> np.ndarray:
    """Weekday phase of each of ``n`` points, counted so that the point after the last has phase 0.

    Shape (n,). Phases are relative to the end of the history, so step ``h`` (1-based) of a
    forecast has phase ``(h - 1) % period``.
    """
    return (np.arange(n) - n) % period


def weekly_profile(x: np.ndarray, min_weeks: int = 2) -> np.ndarray:
    """Seven multiplicative weekday factors (mean 1) for daily values ``x`` (shape (n,), NaN ok).

    Indexed by :func:`phases`. Flat (all ones) when there are fewer than ``min_weeks`` weeks.
    """
    n = x.shape[0]
    ones = np.ones(PERIOD)
    if n < PERIOD * min_weeks:
        return ones
    x = x[-PERIOD * PROFILE_WEEKS :]
    trend = rolling_median(x, PERIOD, centred=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(trend > 0, x / trend, np.nan)
    ratio[~np.isfinite(ratio)] = np.nan
    # One row per phase, one column per week: the last point has phase PERIOD - 1, so after
    # padding the front to whole weeks, each week reads phases 0..PERIOD-1 in order.
    pad = (-ratio.shape[0]) % PERIOD
    by_phase = np.concatenate([np.full(pad, np.nan), ratio]).reshape(-1, PERIOD).T
    count = np.isfinite(by_phase).sum(axis=1)
    if np.any(count < min_weeks):
        return ones
    factors = nanmedian_rows(by_phase)
    # Sampling variance of a median is about (1.25 sd)^2 / n.
    mad = nanmedian_rows(np.abs(by_phase - factors[:, None]))
    noise = (1.25 * MAD_TO_SD * mad) ** 2 / count
    if not np.all(factors > 0):
        factors = np.maximum(factors, 1e-3)
    factors = factors / factors.mean()
    spread = float(np.mean((factors - 1.0) ** 2))
    signal = max(spread - float(noise.mean()), 0.0)
    weight = signal / spread if spread > 0 else 0.0
    shrunk = 1.0 + weight * (factors - 1.0)
    return shrunk / shrunk.mean()
