"""The simple forecasters that :mod:`chalicelib.engines.forecast_combine` puts beside damped
Holt-Winters, and the SES fit whose past errors give the prediction intervals.

Each is a few lines, cheap, and wrong in its own way: a recent median ignores slow growth, seasonal
naive copies last week's noise. All inputs here are already cleaned: no NaN, no outliers (the
median's input also has the weekday factors divided out).

Trend extrapolation hurt on real series it was not tuned on (bench/forecast_bench.py): an SES
forecast and a median-based damped trend were removed, and Theta takes part only where a straight
line explains a good share of the recent (log) history (:func:`trend_share`); otherwise the trend
is left to Holt-Winters, whose damped trend has to earn its place in its own fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chalicelib.engines.robust import mad_sd

#: Candidate smoothing weights; a coarse grid is as good as an optimiser for a median combination.
ALPHAS = np.array([0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8])
#: Points smoothed at once by :func:`fit_ses`.
SES_BLOCK = 64


@dataclass(frozen=True)
class SesFit:
    """Simple exponential smoothing fitted by one-step squared error.

    ``levels`` (shape (n,)) is the level after observing each point, used to measure how this
    kind of forecaster erred in the past (the basis of the prediction intervals).
    """

    alpha: float
    level: float
    levels: np.ndarray


def _filters() -> tuple[np.ndarray, np.ndarray]:
    """Per alpha: the (B, B) decay matrix of a block and the (B,) carry of the level before it."""
    keep = 1.0 - ALPHAS
    lag = np.arange(SES_BLOCK)[:, None] - np.arange(SES_BLOCK)[None, :]
    decay = np.where(lag >= 0, keep[:, None, None] ** np.maximum(lag, 0), 0.0)
    carry = keep[:, None] ** (np.arange(SES_BLOCK) + 1)[None, :]
    return decay, carry


_DECAY, _CARRY = _filters()


def fit_ses(d: np.ndarray) -> SesFit:
    """Fit SES to ``d`` (shape (n,), n >= 1), choosing alpha from :data:`ALPHAS`.

    SES with a fixed alpha is a linear filter, so all candidate alphas run at once, a block of
    points at a time: inside a block of ``B`` points the levels are the level before the block
    carried forward plus a lower-triangular (B, B) decay matrix times the block's points.
    """
    n = d.shape[0]
    warm = min(n, 7)
    k = ALPHAS.shape[0]
    decay, carry = _DECAY, _CARRY
    level = np.full(k, float(np.median(d[:warm])))
    history = np.empty((n, k))
    for lo in range(0, n, SES_BLOCK):
        block = d[lo : lo + SES_BLOCK]
        b = block.shape[0]
        levels = carry[:, :b] * level[:, None] + ALPHAS[:, None] * (
            decay[:, :b, :b] @ block
        )  # (k, b)
        history[lo : lo + b] = levels.T
        level = levels[:, -1]
    before = np.vstack([np.full((1, k), float(np.median(d[:warm]))), history[:-1]])
    err = d[warm:, None] - before[warm:]
    sse = (err * err).sum(axis=0)
    best = int(np.argmin(sse)) if n > warm else 2
    return SesFit(
        float(ALPHAS[best]), float(history[-1, best]), history[:, best].copy()
    )


def theta_forecast(d: np.ndarray, fit: SesFit, horizon: int) -> np.ndarray:
    """Theta method (Hyndman & Billah form): SES plus half the linear trend of ``d``.

    The slope is fitted on the last 26 weeks at most, so a trend from a year ago does not steer
    next month; ``d`` needs 14+ points; shape (horizon,).
    """
    y = d[-182:]
    n = y.shape[0]
    t = np.arange(n, dtype=float) - (n - 1) / 2.0  # centred: the least-squares slope in closed form
    slope = float(t @ (y - y.mean()) / (t @ t))
    a = fit.alpha
    h = np.arange(1, horizon + 1, dtype=float)
    return fit.level + 0.5 * slope * (h - 1 + 1 / a - (1 - a) ** n / a)


def trend_share(z: np.ndarray, window: int = 91) -> float:
    """Share of the variance of the last ``window`` points of ``z`` (shape (n,), n >= 3) that a
    straight line explains (R^2 in [0, 1]): the test of whether a trend is worth extrapolating."""
    y = z[-window:]
    t = np.arange(y.shape[0], dtype=float) - (y.shape[0] - 1) / 2.0
    dev = y - y.mean()
    total = float(dev @ dev)
    if total <= 0.0:
        return 0.0
    return float((t @ dev) ** 2 / (t @ t) / total)


def variance_ratio(z: np.ndarray, lag: int = 7) -> float:
    """How much of ``z`` (shape (n,), log, deseasonalised, gap-free) is a level that wanders and
    stays (a random walk) rather than noise around a level: the robust variance of ``lag``-day
    changes over ``lag`` times that of 1-day changes. About 1 for a random walk, about 2 / (2 *
    lag) = 1/7 for noise around a fixed level; 0.0 when there are too few changes to tell."""
    if z.shape[0] < 2 * lag + 1:
        return 0.0
    step = mad_sd(np.diff(z)) ** 2
    if step <= 0.0:
        return 0.0
    return mad_sd(z[lag:] - z[:-lag]) ** 2 / (lag * step)


def recent_median_forecast(d: np.ndarray, horizon: int, window: int = 7) -> np.ndarray:
    """Median of the last ``window`` deseasonalised days, flat; shape (horizon,)."""
    return np.full(horizon, float(np.median(d[-window:])))


def seasonal_naive_forecast(y: np.ndarray, horizon: int, weeks: int = 3) -> np.ndarray:
    """Median of the same weekday over the last ``weeks`` weeks of cleaned spend ``y``.

    ``y`` (shape (n,)) is on the original scale (weekday factors not removed); shape (horizon,).
    """
    n = y.shape[0]
    k = max(1, min(weeks, n // 7))
    if n < 7:
        return np.full(horizon, float(np.median(y)))
    step = (np.arange(horizon) % 7)[None, :]
    back = 7 * np.arange(1, k + 1)[:, None]
    idx = n - back + step
    return np.median(y[idx], axis=0)
