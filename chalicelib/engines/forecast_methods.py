"""The simple forecasters that :mod:`chalicelib.engines.forecast` combines.

Each one is a few lines, cheap, and wrong in its own way: simple exponential smoothing lags a
trend, Theta overshoots when a trend bends, a recent median ignores slow growth, seasonal naive
copies last week's noise. Their combination is more accurate than any of them (the M3/M4 lesson), and
cheap enough to compute on every API request. All inputs here are already cleaned: no NaN, no
outliers, weekday factors divided out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def ses_forecast(fit: SesFit, horizon: int) -> np.ndarray:
    """Flat SES forecast, shape (horizon,)."""
    return np.full(horizon, fit.level)


def theta_forecast(d: np.ndarray, fit: SesFit, horizon: int) -> np.ndarray:
    """Theta method (Hyndman & Billah form): SES plus half the linear trend of ``d``.

    The slope is fitted on the last 26 weeks at most, so a trend from a year ago does not steer
    next month; shape (horizon,).
    """
    y = d[-182:]
    n = y.shape[0]
    if n < 14:
        return ses_forecast(fit, horizon)
    t = np.arange(n, dtype=float) - (n - 1) / 2.0  # centred: the least-squares slope in closed form
    slope = float(t @ (y - y.mean()) / (t @ t))
    a = fit.alpha
    h = np.arange(1, horizon + 1, dtype=float)
    return fit.level + 0.5 * slope * (h - 1 + 1 / a - (1 - a) ** n / a)


def recent_median_forecast(d: np.ndarray, horizon: int, window: int = 7) -> np.ndarray:
    """Median of the last ``window`` deseasonalised days, flat; shape (horizon,)."""
    return np.full(horizon, float(np.median(d[-window:])))


def damped_trend_forecast(d: np.ndarray, horizon: int, phi: float = 0.9) -> np.ndarray:
    """Damped local trend: recent level plus the recent weekly change, damped by ``phi`` per day.

    A cheap stand-in for a damped Holt model: level is the median of the last week, trend the
    difference of the last two weekly medians divided by 7, so one odd day moves neither; shape
    (horizon,).
    """
    if d.shape[0] < 14:
        return recent_median_forecast(d, horizon)
    last = float(np.median(d[-7:]))
    prev = float(np.median(d[-14:-7]))
    slope = (last - prev) / 7.0
    h = np.arange(1, horizon + 1, dtype=float)
    damp = phi * (1 - phi**h) / (1 - phi)
    # The weekly median sits 3 days back: carry it to today before damping ahead.
    return last + slope * (3.0 + damp)


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
